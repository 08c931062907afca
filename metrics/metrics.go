// Package metrics exposes the bot's Prometheus metrics: updates handled by
// kind and outcome, handling latency, Telegram's refusals, and, read from
// PostgreSQL at every scrape, the appeals submitted and the outbox backlog.
//
// It owns its registry instead of using the library's global one, so that
// every Metrics (one per process, several in tests) counts on its own. No
// label carries a chat id, a user id or anything a person wrote.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the bot.
const namespace = "migrantbot"

// statsTimeout bounds the database queries of one scrape, so that a slow or
// unreachable database makes a scrape incomplete rather than hang it.
const statsTimeout = 2 * time.Second

// Stats reads the numbers kept in the database; store.Store implements it.
// They are the same for every instance sharing the database.
type Stats interface {
	// OutboxStats returns how many messages wait to be sent and how long
	// the oldest of them has waited (0 when none waits).
	OutboxStats(ctx context.Context) (backlog int, oldest time.Duration, err error)
	// AppealsSubmitted returns how many appeals were ever submitted.
	AppealsSubmitted(ctx context.Context) (int64, error)
}

// Metrics counts what the bot does and serves it to Prometheus. It
// implements bot.Observer. It is safe for concurrent use.
type Metrics struct {
	reg         *prometheus.Registry
	updates     *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	failed      *prometheus.CounterVec
}

// latencyBuckets span 1 ms to 5 s: a dialog step with its commit takes a
// millisecond or two, a step that waits for Telegram or a busy database
// seconds. 20 ms, the p99 target, is a bucket bound.
var latencyBuckets = []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}

// New returns Metrics with a registry of their own that also holds the Go
// runtime's and the process's metrics. stats, if not nil, is read at every
// scrape; logger (nil discards) is told when it cannot be read.
func New(stats Stats, logger *slog.Logger) *Metrics {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "updates_total",
			Help: "Telegram updates handled, by kind (text, command, button, ...) and outcome (handled, duplicate, refused, failed, panic, ignored, limited).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "update_duration_seconds",
			Help:    "Time to handle one Telegram update, from receiving it to the end of delivering its answers, by kind.",
			Buckets: latencyBuckets,
		}, []string{"kind"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "telegram_rate_limited_total",
			Help: "Bot API calls answered 429 Too Many Requests.",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "telegram_requests_failed_total",
			Help: "Bot API calls that send or edit a message and failed, by reason (rate_limited, client_error, server_error, network).",
		}, []string{"reason"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.updates, m.duration, m.rateLimited, m.failed,
	)
	if stats != nil {
		m.reg.MustRegister(newDatabaseCollector(stats, logger))
	}
	return m
}

// Update counts one handled update; it implements bot.Observer.
func (m *Metrics) Update(kind, outcome string, d time.Duration) {
	kind, outcome = word(kind), word(outcome)
	m.updates.WithLabelValues(kind, outcome).Inc()
	m.duration.WithLabelValues(kind).Observe(d.Seconds())
}

// RateLimited counts one 429 of the Bot API; it implements bot.Observer.
func (m *Metrics) RateLimited() { m.rateLimited.Inc() }

// RequestFailed counts one failed Bot API call; it implements bot.Observer.
func (m *Metrics) RequestFailed(reason string) { m.failed.WithLabelValues(word(reason)).Inc() }

// Handler serves the metrics in Prometheus' text format (or OpenMetrics,
// when asked). A scrape during a database outage still serves the process's
// own metrics, with migrantbot_database_stats_up at 0.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg,
		EnableOpenMetrics: true,
	}))
}

// Gatherer returns the registry, for tests that read the metrics directly.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// word returns s if it is a short lowercase word, as every kind, outcome and
// reason the bot reports is, and "other" otherwise. It keeps the number of
// series bounded and anything but those fixed words out of the labels, even
// if a caller passed something it should not.
func word(s string) string {
	if s == "" || len(s) > 32 {
		return "other"
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return "other"
		}
	}
	return s
}

// databaseCollector reads the numbers kept in the database at scrape time,
// so that they are exact across restarts and instances.
type databaseCollector struct {
	stats  Stats
	logger *slog.Logger

	up       *prometheus.Desc
	appeals  *prometheus.Desc
	backlog  *prometheus.Desc
	oldest   *prometheus.Desc
	duration *prometheus.Desc
}

func newDatabaseCollector(stats Stats, logger *slog.Logger) *databaseCollector {
	name := func(n string) string { return prometheus.BuildFQName(namespace, "", n) }
	return &databaseCollector{
		stats: stats, logger: logger,
		up: prometheus.NewDesc(name("database_stats_up"),
			"1 if the last scrape read the appeal and outbox numbers from the database, 0 if it could not.", nil, nil),
		appeals: prometheus.NewDesc(name("appeals_submitted_total"),
			"Appeals submitted since the database was created, by every instance (read from the database: do not sum across instances).", nil, nil),
		backlog: prometheus.NewDesc(name("outbox_backlog"),
			"Messages in the outbox waiting to be sent (neither sent nor blocked), of every instance.", nil, nil),
		oldest: prometheus.NewDesc(name("outbox_oldest_age_seconds"),
			"How long the oldest message waiting in the outbox has waited; 0 when none waits.", nil, nil),
		duration: prometheus.NewDesc(name("database_stats_duration_seconds"),
			"Time the last scrape took to read the numbers from the database.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *databaseCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.appeals, c.backlog, c.oldest, c.duration} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. When the database cannot be read
// it reports database_stats_up 0 and leaves the numbers out rather than
// report zeros that would look like an empty outbox.
func (c *databaseCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	start := time.Now()
	appeals, err := c.stats.AppealsSubmitted(ctx)
	var backlog int
	var oldest time.Duration
	if err == nil {
		backlog, oldest, err = c.stats.OutboxStats(ctx)
	}
	ch <- prometheus.MustNewConstMetric(c.duration, prometheus.GaugeValue, time.Since(start).Seconds())
	if err != nil {
		c.logger.Warn("metrics: read the numbers from the database", "error", err.Error())
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.appeals, prometheus.CounterValue, float64(appeals))
	ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(backlog))
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
}
