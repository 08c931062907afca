package bot

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

const testSecret = "hook-Secret_42"

// serveWebhook serves the bot's webhook handler and registers it with the
// double, which then pushes its updates there.
func serveWebhook(tb testing.TB, h *harness) string {
	tb.Helper()
	srv := httptest.NewServer(h.bot.WebhookHandler(testSecret))
	tb.Cleanup(srv.Close)
	url := srv.URL + "/telegram"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.bot.SetWebhook(ctx, url, testSecret); err != nil {
		tb.Fatalf("SetWebhook: %v", err)
	}
	return url
}

func TestWebhookHandlerRequests(t *testing.T) {
	h := newHarness(t, Options{})
	handler := h.bot.WebhookHandler(testSecret)
	update := `{"update_id": 77, "message": {"message_id": 1, "date": 1, "text": "hi",
		"chat": {"id": 501, "type": "private"}, "from": {"id": 501, "first_name": "Alice"}}}`
	tests := []struct {
		name     string
		method   string
		secret   string
		body     string
		want     int
		wantCall bool
	}{
		{"GET", http.MethodGet, testSecret, "", http.StatusMethodNotAllowed, false},
		{"no secret", http.MethodPost, "", update, http.StatusUnauthorized, false},
		{"wrong secret", http.MethodPost, "hook-Secret_43", update, http.StatusUnauthorized, false},
		{"secret prefix", http.MethodPost, testSecret[:5], update, http.StatusUnauthorized, false},
		{"body over 1 MB", http.MethodPost, testSecret, `{"update_id": 78, "message": {"text": "` + strings.Repeat("a", MaxWebhookBody) + `"}}`, http.StatusRequestEntityTooLarge, false},
		{"not JSON", http.MethodPost, testSecret, "update please", http.StatusBadRequest, false},
		{"an update", http.MethodPost, testSecret, update, http.StatusOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.rec.handledCalls())
			req := httptest.NewRequest(tc.method, "/telegram", strings.NewReader(tc.body))
			if tc.secret != "" {
				req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tc.secret)
			}
			rr := httptest.NewRecorder()
			handler.ServeHTTP(rr, req)
			if rr.Code != tc.want {
				t.Errorf("status %d, want %d", rr.Code, tc.want)
			}
			if called := len(h.rec.handledCalls()) > before; called != tc.wantCall {
				t.Errorf("handler called: %v, want %v", called, tc.wantCall)
			}
		})
	}
	// An empty secret lets nobody in.
	req := httptest.NewRequest(http.MethodPost, "/telegram", strings.NewReader(update))
	rr := httptest.NewRecorder()
	h.bot.WebhookHandler("").ServeHTTP(rr, req)
	if rr.Code != http.StatusUnauthorized {
		t.Errorf("empty secret: status %d, want 401", rr.Code)
	}
	if logs := h.logs.String(); strings.Contains(logs, testSecret) || strings.Contains(logs, "aaaa") || strings.Contains(logs, `"hi"`) {
		t.Errorf("logs show the secret or a body:\n%s", logs)
	}
}

func TestWebhookFailureIsRedelivered(t *testing.T) {
	h := newHarness(t, Options{})
	var mu sync.Mutex
	failures := 0
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		mu.Lock()
		defer mu.Unlock()
		if failures < 2 {
			failures++
			return migrantbot.Handled{}, fmt.Errorf("store: apply update %d: connection refused", u.ID)
		}
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "saved"})}, nil
	})
	serveWebhook(t, h)
	id := h.tg.SendText(alice, "hello")
	h.tg.WaitDelivered(t, id, 10*time.Second)
	var codes []int
	for _, p := range h.tg.Pushes(id) {
		codes = append(codes, p.Code)
	}
	if want := []int{503, 503, 200}; fmt.Sprint(codes) != fmt.Sprint(want) {
		t.Errorf("answers to Telegram %v, want %v", codes, want)
	}
	if msgs := h.tg.WaitMessages(t, alice.ID, 1, 5*time.Second); len(msgs) != 1 || msgs[0].Plain != "saved" {
		t.Errorf("messages %+v, want one saying saved", msgs)
	}
	h.noRejected(t)
}

func TestWebhookDuplicateIsAcknowledged(t *testing.T) {
	h := newHarness(t, Options{})
	seen := map[int64]bool{}
	var mu sync.Mutex
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		mu.Lock()
		defer mu.Unlock()
		if seen[u.ID] {
			return migrantbot.Handled{}, fmt.Errorf("store: apply update %d: %w", u.ID, migrantbot.ErrDuplicate)
		}
		seen[u.ID] = true
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "once"})}, nil
	})
	serveWebhook(t, h)
	id := h.tg.SendText(alice, "hello")
	h.tg.WaitDelivered(t, id, 5*time.Second)
	h.tg.Redeliver(id)
	next := h.tg.PressData(alice, 1, "x") // a callback is answered even as a duplicate
	h.tg.WaitDelivered(t, next, 5*time.Second)
	h.tg.Redeliver(next)
	h.tg.WaitNoPending(t, 5*time.Second)
	if n := h.tg.Delivered(id); n != 2 {
		t.Errorf("update %d accepted %d times, want 2 (the duplicate too)", id, n)
	}
	msgs := h.tg.WaitMessages(t, alice.ID, 2, 5*time.Second)
	if len(msgs) != 2 {
		t.Errorf("sent %d messages, want 2 (none for the duplicates)", len(msgs))
	}
	if un := h.tg.UnansweredCallbacks(); len(un) > 0 {
		t.Errorf("unanswered callbacks %v", un)
	}
	h.noRejected(t)
}

func TestPollRefusesWhileAWebhookIsSet(t *testing.T) {
	h := newHarness(t, Options{})
	ctx := context.Background()
	if err := h.bot.SetWebhook(ctx, "https://bot.example.org/telegram", testSecret); err != nil {
		t.Fatal(err)
	}
	if url, secret := h.tg.Webhook(); url != "https://bot.example.org/telegram" || secret != testSecret {
		t.Errorf("registered %q with secret %q", url, secret)
	}
	err := h.bot.Poll(ctx)
	if err == nil || !strings.Contains(err.Error(), "a webhook is set at https://bot.example.org/telegram") ||
		!strings.Contains(err.Error(), "migrantbot webhook delete") {
		t.Fatalf("Poll with a webhook: %v", err)
	}
	if url, _ := h.tg.Webhook(); url == "" {
		t.Errorf("Poll deleted the webhook")
	}
	if err := h.bot.DeleteWebhook(ctx); err != nil {
		t.Fatal(err)
	}
	h.poll(t)
	id := h.tg.SendText(alice, "polled")
	h.tg.WaitOffset(t, id+1, 5*time.Second)
	if strings.Contains(h.logs.String(), testSecret) {
		t.Errorf("logs show the webhook secret")
	}
	h.noRejected(t)
}

func TestWebhookKeepsChatOrder(t *testing.T) {
	h := newHarness(t, Options{})
	var mu sync.Mutex
	got := map[int64][]string{}
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		mu.Lock()
		got[u.ChatID] = append(got[u.ChatID], in.Text)
		mu.Unlock()
		return migrantbot.Handled{}, nil
	})
	serveWebhook(t, h)
	people := []telegramtest.User{alice, bob}
	var last int64
	for i := range 10 {
		for _, p := range people {
			last = h.tg.SendText(p, fmt.Sprint(i))
		}
	}
	h.tg.WaitOffset(t, last+1, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, p := range people {
		if s := strings.Join(got[p.ID], " "); s != "0 1 2 3 4 5 6 7 8 9" {
			t.Errorf("chat %d handled %q, want 0 to 9 in order", p.ID, s)
		}
	}
}

func TestPollStopsWhenAWebhookIsSetMeanwhile(t *testing.T) {
	h := newHarness(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.bot.Poll(ctx) }()
	h.tg.WaitCalls(t, "getUpdates", 1, 5*time.Second)
	if err := h.bot.SetWebhook(ctx, "https://bot.example.org/telegram", testSecret); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "a webhook is set at https://bot.example.org/telegram") {
			t.Errorf("Poll returned %v, want the webhook error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Poll still running 10s after a webhook was set")
	}
}
