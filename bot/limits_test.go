package bot

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"migrantbot"
)

func TestFloodGuard(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	g := newFloodGuard(3, 10*time.Second)
	tests := []struct {
		chat int64
		at   time.Duration
		want int
	}{
		{1, 0, admitted}, {1, time.Second, admitted}, {1, 2 * time.Second, admitted},
		{1, 3 * time.Second, warn}, {1, 4 * time.Second, dropped},
		{2, 4 * time.Second, admitted}, // another person is not affected
		{1, 9 * time.Second, dropped},
		{1, 10 * time.Second, admitted}, // a new window
		{1, 11 * time.Second, admitted}, {1, 12 * time.Second, admitted}, {1, 13 * time.Second, warn},
	}
	for i, tt := range tests {
		if got := g.admit(tt.chat, t0.Add(tt.at), t0.Add(tt.at)); got != tt.want {
			t.Errorf("%d: chat %d at %v: got %d, want %d", i, tt.chat, tt.at, got, tt.want)
		}
	}
	// Windows that are over are forgotten: memory follows who writes now.
	for c := range int64(1000) {
		g.admit(100+c, t0.Add(20*time.Second), time.Time{})
	}
	g.admit(1, t0.Add(time.Minute), time.Time{})
	if n := g.size(); n != 1 {
		t.Errorf("the guard remembers %d chats after their windows ended, want 1", n)
	}
	if got := (*floodGuard)(nil).admit(1, t0, t0); got != admitted {
		t.Errorf("a nil guard must admit")
	}
	// A backlog (written long before it arrives) is not a flood: 50 updates
	// written a minute ago all pass, and do not count against what follows.
	b := newFloodGuard(3, 10*time.Second)
	for i := range 50 {
		if got := b.admit(7, t0.Add(time.Duration(i)*time.Millisecond), t0.Add(-time.Minute)); got != admitted {
			t.Fatalf("backlog update %d: %d, want admitted", i, got)
		}
	}
	if got := b.admit(7, t0.Add(time.Second), t0.Add(time.Second)); got != admitted {
		t.Errorf("a fresh update after a backlog: %d, want admitted", got)
	}
}

func TestFloodIsAnsweredOnceAndDropped(t *testing.T) {
	h := newHarness(t, Options{Workers: 4})
	const sent = 30
	var last int64
	for i := range sent {
		last = h.tg.SendText(alice, fmt.Sprintf("message %02d", i))
	}
	for i := range 5 {
		last = h.tg.SendText(bob, fmt.Sprintf("bob %d", i))
	}
	h.poll(t)
	h.tg.WaitOffset(t, last+1, 10*time.Second)

	var aliceTexts, limited, bobs int
	for _, c := range h.rec.handledCalls() {
		switch {
		case c.u.ChatID == bob.ID:
			bobs++
		case c.in.Kind == migrantbot.InputLimited:
			limited++
			if c.in.Text != "" || c.in.Data != "" {
				t.Errorf("the limited input carries what was sent: %+v", c.in)
			}
		default:
			aliceTexts++
		}
	}
	if aliceTexts != floodMax {
		t.Errorf("%d of alice's updates handled, want the first %d", aliceTexts, floodMax)
	}
	if limited != 1 {
		t.Errorf("%d limited inputs, want exactly one per window", limited)
	}
	if bobs != 5 {
		t.Errorf("bob had %d updates handled, want all 5: one person's flood must not affect another", bobs)
	}
	h.noRejected(t)
}

func TestWebhookBusyIsRedelivered(t *testing.T) {
	h := newHarness(t, Options{Workers: 1})
	h.bot.slotWait = 10 * time.Millisecond
	handler := h.bot.WebhookHandler(testSecret)
	post := func() int {
		update := `{"update_id": 90, "message": {"message_id": 1, "date": 1, "text": "hi",
			"chat": {"id": 501, "type": "private"}, "from": {"id": 501, "first_name": "Alice"}}}`
		req := httptest.NewRequest(http.MethodPost, "/telegram", strings.NewReader(update))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", testSecret)
		rr := httptest.NewRecorder()
		handler.ServeHTTP(rr, req)
		return rr.Code
	}
	// Every slot taken, as by updates in hand: the next one is refused with
	// 503, which makes Telegram deliver it again later.
	for range cap(h.bot.slots) {
		if !h.bot.acquireSlot(t.Context()) {
			t.Fatal("a free slot was refused")
		}
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("busy: status %d, want 503", code)
	}
	if n := len(h.rec.handledCalls()); n != 0 {
		t.Fatalf("a refused update was handled %d times", n)
	}
	h.bot.releaseSlot()
	if code := post(); code != http.StatusOK {
		t.Fatalf("with a free slot: status %d, want 200", code)
	}
	if n := len(h.rec.handledCalls()); n != 1 {
		t.Fatalf("handled %d times, want 1", n)
	}
}

// size is how many chats the guard remembers.
func (g *floodGuard) size() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.chats)
}
