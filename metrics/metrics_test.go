package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"migrantbot/bot"
	"migrantbot/metrics"
)

// The bot is told of updates through its Observer interface.
var _ bot.Observer = (*metrics.Metrics)(nil)

// fakeStats stands in for the database's numbers. The collector's queries
// themselves are tested against PostgreSQL in store and end to end in
// cmd/migrantbot; here only what the collector makes of their answers.
type fakeStats struct {
	mu      sync.Mutex
	appeals int64
	backlog int
	oldest  time.Duration
	err     error
	calls   int
}

func (f *fakeStats) OutboxStats(ctx context.Context) (int, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if _, ok := ctx.Deadline(); !ok {
		return 0, 0, errors.New("no deadline on the scrape's query")
	}
	return f.backlog, f.oldest, f.err
}

func (f *fakeStats) AppealsSubmitted(ctx context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return 0, errors.New("no deadline on the scrape's query")
	}
	return f.appeals, f.err
}

// gather returns the metric families of m by name.
func gather(tb testing.TB, m *metrics.Metrics) map[string]*dto.MetricFamily {
	tb.Helper()
	families, err := m.Gatherer().Gather()
	if err != nil {
		tb.Fatalf("Gather: %v", err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	return byName
}

// labels returns the label pairs of a metric as a map.
func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// find returns the metric of family name whose labels are want, or nil.
func find(families map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		got := labels(m)
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			if got[k] != v {
				match = false
			}
		}
		if match {
			return m
		}
	}
	return nil
}

func TestUpdatesCountedByKindAndOutcome(t *testing.T) {
	m := metrics.New(nil, nil)
	updates := []struct {
		kind, outcome string
		d             time.Duration
	}{
		{"text", "handled", 3 * time.Millisecond},
		{"text", "handled", 15 * time.Millisecond},
		{"text", "failed", 2 * time.Second},
		{"button", "handled", 800 * time.Microsecond},
		{"button", "duplicate", time.Millisecond},
		{"photo", "limited", 4 * time.Millisecond},
		{"command", "panic", 40 * time.Millisecond},
	}
	for _, u := range updates {
		m.Update(u.kind, u.outcome, u.d)
	}
	families := gather(t, m)

	tests := []struct {
		kind, outcome string
		want          float64
	}{
		{"text", "handled", 2},
		{"text", "failed", 1},
		{"button", "handled", 1},
		{"button", "duplicate", 1},
		{"photo", "limited", 1},
		{"command", "panic", 1},
	}
	for _, tc := range tests {
		t.Run(tc.kind+"/"+tc.outcome, func(t *testing.T) {
			c := find(families, "migrantbot_updates_total", map[string]string{"kind": tc.kind, "outcome": tc.outcome})
			if c == nil {
				t.Fatalf("no migrantbot_updates_total{kind=%q,outcome=%q}", tc.kind, tc.outcome)
			}
			if got := c.GetCounter().GetValue(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if n := len(families["migrantbot_updates_total"].GetMetric()); n != len(tests) {
		t.Errorf("updates_total series: got %d, want %d", n, len(tests))
	}

	// The histogram counts every update of a kind and sorts them into
	// buckets: of the three text updates, one took at most 5 ms, two at
	// most 20 ms, and all three at most 5 s.
	h := find(families, "migrantbot_update_duration_seconds", map[string]string{"kind": "text"})
	if h == nil {
		t.Fatal("no migrantbot_update_duration_seconds{kind=\"text\"}")
	}
	if got := h.GetHistogram().GetSampleCount(); got != 3 {
		t.Errorf("text duration count: got %d, want 3", got)
	}
	if got, want := h.GetHistogram().GetSampleSum(), (2*time.Second + 18*time.Millisecond).Seconds(); got < want-1e-9 || got > want+1e-9 {
		t.Errorf("text duration sum: got %v, want %v", got, want)
	}
	wantBuckets := map[float64]uint64{0.001: 0, 0.005: 1, 0.02: 2, 1: 2, 5: 3}
	seen := 0
	for _, b := range h.GetHistogram().GetBucket() {
		if want, ok := wantBuckets[b.GetUpperBound()]; ok {
			seen++
			if b.GetCumulativeCount() != want {
				t.Errorf("text bucket le=%v: got %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	if seen != len(wantBuckets) {
		t.Errorf("found %d of the buckets %v", seen, wantBuckets)
	}
	if first, last := h.GetHistogram().GetBucket()[0].GetUpperBound(), h.GetHistogram().GetBucket()[len(h.GetHistogram().GetBucket())-1].GetUpperBound(); first != 0.001 || last != 5 {
		t.Errorf("buckets span %v..%v, want 0.001..5", first, last)
	}
}

func TestLabelsHoldOnlyWords(t *testing.T) {
	m := metrics.New(nil, nil)
	// Whatever a careless caller passes, no label value but a short
	// lowercase word reaches the metrics.
	m.Update("text", "handled", time.Millisecond)
	m.Update("Elchin Mammadov", "handled", time.Millisecond)
	m.Update("text", "+994501234567", time.Millisecond)
	m.Update("", "handled", time.Millisecond)
	m.RequestFailed("chat 123456789")
	families := gather(t, m)
	for name, f := range families {
		if !strings.HasPrefix(name, "migrantbot_") {
			continue // the Go runtime's, such as go_info{version="go1.26.1"}
		}
		for _, metric := range f.GetMetric() {
			for k, v := range labels(metric) {
				if strings.ContainsAny(v, " +0123456789") || strings.Contains(v, "Elchin") {
					t.Errorf("%s{%s=%q}: a label holds what the caller passed", name, k, v)
				}
			}
		}
	}
	if c := find(families, "migrantbot_updates_total", map[string]string{"kind": "other", "outcome": "handled"}); c == nil || c.GetCounter().GetValue() != 2 {
		t.Errorf("updates of unknown kinds: got %v, want 2 under kind=\"other\"", c)
	}
	if c := find(families, "migrantbot_telegram_requests_failed_total", map[string]string{"reason": "other"}); c == nil || c.GetCounter().GetValue() != 1 {
		t.Errorf("failures of an unknown reason: got %v, want 1 under reason=\"other\"", c)
	}
}

func TestTelegramFailures(t *testing.T) {
	m := metrics.New(nil, nil)
	m.RateLimited()
	m.RateLimited()
	m.RequestFailed("rate_limited")
	m.RequestFailed("rate_limited")
	m.RequestFailed("server_error")
	m.RequestFailed("network")
	families := gather(t, m)
	if c := find(families, "migrantbot_telegram_rate_limited_total", map[string]string{}); c == nil || c.GetCounter().GetValue() != 2 {
		t.Errorf("telegram_rate_limited_total: got %v, want 2", c)
	}
	for reason, want := range map[string]float64{"rate_limited": 2, "server_error": 1, "network": 1} {
		c := find(families, "migrantbot_telegram_requests_failed_total", map[string]string{"reason": reason})
		if c == nil || c.GetCounter().GetValue() != want {
			t.Errorf("telegram_requests_failed_total{reason=%q}: got %v, want %v", reason, c, want)
		}
	}
}

func TestDatabaseNumbersReadAtScrape(t *testing.T) {
	stats := &fakeStats{appeals: 7, backlog: 3, oldest: 42 * time.Second}
	m := metrics.New(stats, nil)
	families := gather(t, m)
	want := map[string]float64{
		"migrantbot_database_stats_up":         1,
		"migrantbot_appeals_submitted_total":   7,
		"migrantbot_outbox_backlog":            3,
		"migrantbot_outbox_oldest_age_seconds": 42,
	}
	for name, v := range want {
		f := families[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Errorf("%s: missing", name)
			continue
		}
		got := f.GetMetric()[0].GetGauge().GetValue()
		if f.GetType() == dto.MetricType_COUNTER {
			got = f.GetMetric()[0].GetCounter().GetValue()
		}
		if got != v {
			t.Errorf("%s: got %v, want %v", name, got, v)
		}
	}
	if got := families["migrantbot_appeals_submitted_total"].GetType(); got != dto.MetricType_COUNTER {
		t.Errorf("appeals_submitted_total is a %v, want a counter", got)
	}

	// Every scrape reads the database again.
	stats.mu.Lock()
	stats.appeals, stats.backlog = 8, 0
	stats.mu.Unlock()
	families = gather(t, m)
	if got := families["migrantbot_appeals_submitted_total"].GetMetric()[0].GetCounter().GetValue(); got != 8 {
		t.Errorf("appeals after another submission: got %v, want 8", got)
	}
	if got := families["migrantbot_outbox_backlog"].GetMetric()[0].GetGauge().GetValue(); got != 0 {
		t.Errorf("backlog after delivery: got %v, want 0", got)
	}
	if stats.calls != 2 {
		t.Errorf("database read %d times for 2 scrapes", stats.calls)
	}

	// An unreachable database leaves the numbers out instead of reporting
	// an empty outbox, and says so.
	stats.mu.Lock()
	stats.err = errors.New("connection refused")
	stats.mu.Unlock()
	families = gather(t, m)
	if f := families["migrantbot_database_stats_up"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 0 {
		t.Errorf("database_stats_up during an outage: got %v, want 0", f)
	}
	for _, name := range []string{"migrantbot_appeals_submitted_total", "migrantbot_outbox_backlog", "migrantbot_outbox_oldest_age_seconds"} {
		if families[name] != nil {
			t.Errorf("%s reported during an outage", name)
		}
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	stats := &fakeStats{appeals: 5, backlog: 1, oldest: time.Second}
	m := metrics.New(stats, nil)
	m.Update("button", "handled", 2*time.Millisecond)
	m.RateLimited()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`migrantbot_updates_total{kind="button",outcome="handled"} 1`,
		`migrantbot_update_duration_seconds_count{kind="button"} 1`,
		`migrantbot_appeals_submitted_total 5`,
		`migrantbot_outbox_backlog 1`,
		`migrantbot_telegram_rate_limited_total 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q", want)
		}
	}
	if problems, err := testutil.GatherAndLint(m.Gatherer()); err != nil {
		t.Errorf("lint: %v", err)
	} else {
		for _, p := range problems {
			if strings.HasPrefix(p.Metric, "migrantbot_") {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		}
	}
}

// Metrics made separately count separately: there is no global registry.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := metrics.New(nil, nil), metrics.New(nil, nil)
	a.RateLimited()
	a.Update("text", "handled", time.Millisecond)
	if c := find(gather(t, b), "migrantbot_telegram_rate_limited_total", map[string]string{}); c == nil || c.GetCounter().GetValue() != 0 {
		t.Errorf("a second Metrics sees the first's 429: %v", c)
	}
	if n, err := testutil.GatherAndCount(b.Gatherer(), "migrantbot_updates_total"); err != nil || n != 0 {
		t.Errorf("a second Metrics has %d update series (%v), want 0", n, err)
	}
	if n, err := testutil.GatherAndCount(a.Gatherer(), "migrantbot_updates_total"); err != nil || n != 1 {
		t.Errorf("the first Metrics has %d update series (%v), want 1", n, err)
	}
}
