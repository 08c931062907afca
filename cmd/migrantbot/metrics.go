package main

import (
	"net/http"

	"migrantbot/metrics"
)

// withMetrics serves GET /metrics beside the console on the staff address.
// The metrics hold no personal data but tell how busy the office is, so,
// like /healthz and /readyz, they are for the local network: the README's
// reverse proxy example keeps all three from the public. They bypass the
// console's middleware, so that scrapes neither need a session nor fill the
// request log.
func withMetrics(console http.Handler, m *metrics.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", console)
	return mux
}
