package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"migrantbot/bot/telegramtest"
	"migrantbot/store/storetest"
)

// mark is written into the appeal's answers; it must not reach the metrics.
const mark = "MARK-7Q2"

// scrape gets /metrics from the staff address and returns the body and the
// parsed families.
func scrape(tb testing.TB, staffAddr string) (string, map[string]*dto.MetricFamily) {
	tb.Helper()
	resp, err := http.Get("http://" + staffAddr + "/metrics")
	if err != nil {
		tb.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %d, want 200; body:\n%s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		tb.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return string(body), families
}

// sample returns the value of the metric of family name whose labels
// include want, and whether there is one.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_UNTYPED:
			return m.GetUntyped().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsEndpoint(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	srv := startServe(t, tg, url)
	waitHealthy(t, "http://"+srv.staffAddr)

	// A chat id no metric value could hold by chance.
	const chatID = 918273645512
	p := newPerson(t, tg, chatID, "en")
	p.fileMarked(markedAppeal{
		Surname: "Markova", FirstName: "Qizlarbek", Patronymic: "Rashid qizi", City: "Baku",
		Address: mark + " street 5", Authority: "Police station " + mark,
		Description: "Held for two days at " + mark + " without being told why.", PhotoCaption: "decision " + mark,
		SharedPhone: "994507654321", Email: "mark7q2@example.org",
	})
	// Telegram turns the next answer away with a 429 for half a minute: it
	// waits in the outbox, and the scrape shows both.
	tg.FailNext("sendMessage", 1, http.StatusTooManyRequests, 30)
	p.text("/status")

	body, families := scrape(t, srv.staffAddr)
	checks := []struct {
		name    string
		labels  map[string]string
		atLeast float64
	}{
		{"migrantbot_updates_total", map[string]string{"kind": "text", "outcome": "handled"}, 1},
		{"migrantbot_updates_total", map[string]string{"kind": "button", "outcome": "handled"}, 1},
		{"migrantbot_updates_total", map[string]string{"kind": "command", "outcome": "handled"}, 1},
		{"migrantbot_updates_total", map[string]string{"kind": "photo", "outcome": "handled"}, 1},
		{"migrantbot_updates_total", map[string]string{"kind": "contact", "outcome": "handled"}, 1},
		{"migrantbot_update_duration_seconds", map[string]string{"kind": "text"}, 1},
		{"migrantbot_update_duration_seconds", map[string]string{"kind": "button"}, 1},
		{"migrantbot_appeals_submitted_total", nil, 1},
		{"migrantbot_database_stats_up", nil, 1},
		{"migrantbot_outbox_backlog", nil, 1},
		{"migrantbot_outbox_oldest_age_seconds", nil, 0},
		{"migrantbot_telegram_rate_limited_total", nil, 1},
		{"migrantbot_telegram_requests_failed_total", map[string]string{"reason": "rate_limited"}, 1},
		{"process_resident_memory_bytes", nil, 1},
		{"go_goroutines", nil, 1},
	}
	for _, c := range checks {
		got, ok := sample(families, c.name, c.labels)
		switch {
		case !ok:
			t.Errorf("%s%v: missing", c.name, c.labels)
		case got < c.atLeast:
			t.Errorf("%s%v: got %v, want at least %v", c.name, c.labels, got, c.atLeast)
		}
	}

	// Every text update the person sent is counted and timed once.
	texts, _ := sample(families, "migrantbot_updates_total", map[string]string{"kind": "text", "outcome": "handled"})
	timed, _ := sample(families, "migrantbot_update_duration_seconds", map[string]string{"kind": "text"})
	if texts != timed {
		t.Errorf("text updates: %v counted, %v timed", texts, timed)
	}
	var appeals float64
	if err := openStore(t, url).Pool().QueryRow(t.Context(), `SELECT count(*) FROM appeals`).Scan(&appeals); err != nil {
		t.Fatal(err)
	}
	if got, _ := sample(families, "migrantbot_appeals_submitted_total", nil); got != appeals {
		t.Errorf("appeals_submitted_total: got %v, want %v (rows in appeals)", got, appeals)
	}

	for _, secret := range []string{mark, strings.ToLower(mark), "mark7q2", strconv.FormatInt(chatID, 10),
		"Markova", "Qizlarbek", "994507654321", token, "example.org"} {
		if strings.Contains(body, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "migrantbot_") && !strings.Contains(line, "_bucket{") {
			t.Log(line)
		}
	}
	checkTelegramRules(t, tg)
}
