package main

import (
	"math"
	"sync"
	"time"
)

// histogram records durations in logarithmic buckets 2% wide, from a
// microsecond to hours, in constant memory: the bot process keeps one for
// every update it handles, and a list of every duration would itself grow
// with the run and count in the bot's peak memory.
type histogram struct {
	mu     sync.Mutex
	counts [histBuckets]int64
	n      int64
	max    time.Duration
}

const (
	histGrowth  = 1.02
	histBuckets = 1200 // 1.02^1200 µs is more than a day
)

var logGrowth = math.Log(histGrowth)

func (h *histogram) add(d time.Duration) {
	us := float64(d) / float64(time.Microsecond)
	i := 0
	if us > 1 {
		i = min(int(math.Log(us)/logGrowth), histBuckets-1)
	}
	h.mu.Lock()
	h.counts[i]++
	h.n++
	h.max = max(h.max, d)
	h.mu.Unlock()
}

func (h *histogram) reset() {
	h.mu.Lock()
	h.counts, h.n, h.max = [histBuckets]int64{}, 0, 0
	h.mu.Unlock()
}

// latencies is the summary of a histogram that reports print.
type latencies struct {
	Count int64         `json:"count"`
	P50   time.Duration `json:"p50"`
	P95   time.Duration `json:"p95"`
	P99   time.Duration `json:"p99"`
	Max   time.Duration `json:"max"`
}

// summary returns the percentiles, each the upper edge of its bucket (at
// most 2% above the true value) and never above the largest duration seen.
func (h *histogram) summary() latencies {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := latencies{Count: h.n, Max: h.max}
	if h.n == 0 {
		return s
	}
	at := func(q float64) time.Duration {
		rank := int64(math.Ceil(q * float64(h.n)))
		var seen int64
		for i, c := range h.counts {
			seen += c
			if seen >= rank {
				edge := time.Duration(math.Pow(histGrowth, float64(i+1)) * float64(time.Microsecond))
				return min(edge, h.max)
			}
		}
		return h.max
	}
	s.P50, s.P95, s.P99 = at(0.50), at(0.95), at(0.99)
	return s
}
