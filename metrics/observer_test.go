package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestObserverCounts reads the counters the Observer methods feed directly.
func TestObserverCounts(t *testing.T) {
	m := New(nil, nil)
	tests := []struct {
		name string
		do   func()
		read func() float64
		want float64
	}{
		{"handled texts", func() {
			m.Update("text", "handled", time.Millisecond)
			m.Update("text", "handled", 2*time.Millisecond)
		}, func() float64 { return testutil.ToFloat64(m.updates.WithLabelValues("text", "handled")) }, 2},
		{"limited buttons", func() { m.Update("button", "limited", time.Millisecond) },
			func() float64 { return testutil.ToFloat64(m.updates.WithLabelValues("button", "limited")) }, 1},
		{"429s", func() { m.RateLimited(); m.RateLimited(); m.RateLimited() },
			func() float64 { return testutil.ToFloat64(m.rateLimited) }, 3},
		{"server errors", func() { m.RequestFailed("server_error") },
			func() float64 { return testutil.ToFloat64(m.failed.WithLabelValues("server_error")) }, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.read()
			tc.do()
			if got := tc.read() - before; got != tc.want {
				t.Errorf("got %v more, want %v", got, tc.want)
			}
		})
	}
	if n := testutil.CollectAndCount(m.duration); n != 2 {
		t.Errorf("duration series: got %d, want 2 (text, button)", n)
	}
}
