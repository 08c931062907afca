package bot

import (
	"context"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

// observed records what an Observer was told.
type observed struct {
	mu          sync.Mutex
	updates     map[[2]string]int // kind, outcome → count
	durations   []time.Duration
	rateLimited int
	failed      map[string]int
}

func newObserved() *observed {
	return &observed{updates: map[[2]string]int{}, failed: map[string]int{}}
}

func (o *observed) Update(kind, outcome string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.updates[[2]string{kind, outcome}]++
	o.durations = append(o.durations, d)
}

func (o *observed) RateLimited() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rateLimited++
}

func (o *observed) RequestFailed(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed[reason]++
}

func (o *observed) snapshot() (map[[2]string]int, []time.Duration, int, map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.updates), append([]time.Duration(nil), o.durations...), o.rateLimited, maps.Clone(o.failed)
}

func TestObserverSeesEveryUpdate(t *testing.T) {
	obs := newObserved()
	h := newHarness(t, Options{Observer: obs})
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		switch in.Text {
		case "again":
			return migrantbot.Handled{}, migrantbot.Errorf(migrantbot.EDUPLICATE, "update %d already applied", u.ID)
		case "boom":
			panic("a bug")
		}
		if in.Kind == migrantbot.InputButton {
			return migrantbot.Handled{Notice: "ok"}, nil
		}
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "ok"})}, nil
	})
	stop := h.poll(t)
	defer stop()
	h.tg.SendText(alice, "hello")
	h.tg.SendText(alice, "/start")
	h.tg.SendText(bob, "again")
	h.tg.SendText(bob, "boom")
	last := h.tg.PressData(alice, 0, "yes")
	h.tg.WaitOffset(t, last+1, 10*time.Second)
	stop()

	updates, durations, _, _ := obs.snapshot()
	want := map[[2]string]int{
		{kindText, "handled"}:    1,
		{kindCommand, "handled"}: 1,
		{kindText, "duplicate"}:  1,
		{kindText, "panic"}:      1,
		{kindButton, "handled"}:  1,
	}
	if !maps.Equal(updates, want) {
		t.Errorf("updates observed:\n got %v\nwant %v", updates, want)
	}
	for i, d := range durations {
		if d <= 0 || d > 10*time.Second {
			t.Errorf("duration %d: %v, want the handling time", i, d)
		}
	}
}

func TestObserverSeesFailedSends(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		wantReason  string
		rateLimited int
	}{
		{"429", 429, failRateLimited, 1},
		{"502", 502, failServer, 0},
		{"400", 400, failClient, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := newObserved()
			h := newHarness(t, Options{Observer: obs})
			h.tg.FailNext("sendMessage", 1, tc.code, 1)
			h.bot.Deliver(t.Context(), h.outbox.add(alice.ID, migrantbot.Message{Text: "one"}))
			_, _, rateLimited, failed := obs.snapshot()
			if rateLimited != tc.rateLimited {
				t.Errorf("rate limited: got %d, want %d", rateLimited, tc.rateLimited)
			}
			if want := map[string]int{tc.wantReason: 1}; !maps.Equal(failed, want) {
				t.Errorf("failed: got %v, want %v", failed, want)
			}
		})
	}
}

func TestObserverSeesRateLimitedCallsOtherThanSending(t *testing.T) {
	obs := newObserved()
	h := newHarness(t, Options{Observer: obs})
	h.tg.FailNext("answerCallbackQuery", 1, 429, 1)
	h.tg.FailNext("getUpdates", 1, 429, 1)
	last := h.tg.PressData(alice, 1, "m:menu")
	h.poll(t)
	h.tg.WaitOffset(t, last+1, 10*time.Second)
	if _, _, rateLimited, failed := obs.snapshot(); rateLimited != 2 || failed[failRateLimited] != 2 {
		t.Errorf("429s on getUpdates and answerCallbackQuery: rate limited %d, failed %v; want 2 each", rateLimited, failed)
	}
}

func TestObserveSendClassifies(t *testing.T) {
	live := t.Context()
	stopped, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name        string
		ctx         context.Context
		err         error
		wantFailed  map[string]int
		rateLimited int
	}{
		{"sent", live, nil, map[string]int{}, 0},
		{"429", live, &tgbotapi.Error{Code: 429, Message: "Too Many Requests: retry after 3"}, map[string]int{failRateLimited: 1}, 1},
		{"403", live, &tgbotapi.Error{Code: 403, Message: "Forbidden: bot was blocked by the user"}, map[string]int{failClient: 1}, 0},
		{"500", live, &tgbotapi.Error{Code: 500, Message: "Internal Server Error"}, map[string]int{failServer: 1}, 0},
		{"no answer", live, errors.New("dial tcp: connection refused"), map[string]int{failNetwork: 1}, 0},
		{"timeout", live, context.DeadlineExceeded, map[string]int{failNetwork: 1}, 0},
		{"cut by shutdown", stopped, context.Canceled, map[string]int{}, 0},
		{"429 while stopping", stopped, &tgbotapi.Error{Code: 429}, map[string]int{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := newObserved()
			b := &Bot{opt: Options{Observer: obs}}
			b.observeSend(tc.ctx, tc.err)
			_, _, rateLimited, failed := obs.snapshot()
			if rateLimited != tc.rateLimited || !maps.Equal(failed, tc.wantFailed) {
				t.Errorf("got rate limited %d, failed %v; want %d, %v", rateLimited, failed, tc.rateLimited, tc.wantFailed)
			}
		})
	}
}

// A Bot made without an Observer works as before.
func TestNoObserver(t *testing.T) {
	h := newHarness(t, Options{})
	h.tg.FailNext("sendMessage", 1, 429, 1)
	h.bot.Deliver(t.Context(), h.outbox.add(alice.ID, migrantbot.Message{Text: "one"}))
	if got := h.outbox.retryCalls(); len(got) != 1 {
		t.Errorf("retries: got %+v, want one after the 429", got)
	}
}
