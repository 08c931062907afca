package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"migrantbot/bot/telegramtest"
	"migrantbot/store/storetest"
)

const (
	testWebhookURL    = "https://bot.example.org/telegram/hook"
	testWebhookSecret = "hook-secret_0123456789"
)

// startWebhookServe runs `serve` in webhook mode against tg and dbURL, and
// returns the local address of its webhook (the reverse proxy's upstream).
func startWebhookServe(tb testing.TB, tg *telegramtest.Server, dbURL string) (*server, string) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &server{tb: tb, tg: tg, dbURL: dbURL, cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	env := map[string]string{"DATABASE_URL": dbURL, "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": tg.URL, "LOG_LEVEL": "debug",
		"STAFF_ADDR": freeAddr(tb), "WEBHOOK_ADDR": freeAddr(tb), "WEBHOOK_URL": testWebhookURL, "WEBHOOK_SECRET": testWebhookSecret,
		"TELEGRAM_CHAT_RATE": "1000", "TELEGRAM_RATE": "1000", "PERSON_UPDATE_LIMIT": "off", "DATA_KEY": storetest.DataKey(tb)}
	b.staffAddr = env["STAFF_ADDR"]
	go func() {
		b.done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, b.logs)
	}()
	tb.Cleanup(func() { b.stop() })
	return b, "http://" + env["WEBHOOK_ADDR"] + "/telegram/hook"
}

// TestTwoWebhookInstances runs two serve instances on one database behind a
// "load balancer" that sends each update to one of them at random and often
// to both at once.
func TestTwoWebhookInstances(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	a, hookA := startWebhookServe(t, tg, url)
	b, hookB := startWebhookServe(t, tg, url)
	tg.SetWebhookTargets([]string{hookA, hookB}, 0.3)

	const people = 10
	langs := []string{"en", "az", "ru"}
	refs := make([]string, people)
	var persons []*person
	t.Run("appeals", func(t *testing.T) {
		for i := range people {
			p := newPerson(t, tg, int64(3000+i), langs[i%len(langs)])
			persons = append(persons, p)
			t.Run(fmt.Sprint("person ", i), func(t *testing.T) {
				t.Parallel()
				p.tb = t
				refs[i] = p.fileAppeal(langs[i%len(langs)])
			})
		}
	})
	if t.Failed() {
		t.Logf("instance A logs:\n%s", lastChars(a.logs.String(), 3000))
		t.Logf("instance B logs:\n%s", lastChars(b.logs.String(), 3000))
		t.FailNow()
	}
	if u, secret := tg.Webhook(); u != testWebhookURL || secret != testWebhookSecret {
		t.Errorf("webhook registered as %q with secret %q", u, secret)
	}

	st := openStore(t, url)
	if n := countAppeals(t, st); n != people {
		t.Errorf("appeals in the database: %d, want %d", n, people)
	}
	for i, ref := range refs {
		var n int
		err := st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM appeals WHERE reference = $1`, ref).Scan(&n)
		if err != nil {
			t.Fatalf("count appeal %s: %v", ref, err)
		}
		if n != 1 {
			t.Errorf("appeal %s exists %d times, want once", ref, n)
		}
		ap, err := st.Appeal(context.Background(), ref)
		if err != nil {
			t.Fatalf("appeal %s: %v", ref, err)
		}
		if ap.UserID != int64(3000+i) || len(ap.Attachments) != 3 || ap.Surname != "Mammadov" {
			t.Errorf("appeal %s: user %d, %d attachments, surname %q; want user %d, 3, Mammadov", ref, ap.UserID, len(ap.Attachments), ap.Surname, 3000+i)
		}
		// The confirmation went out once, though both instances run the
		// outbox worker and some updates reached both.
		confirmations := 0
		for _, m := range tg.Messages(int64(3000 + i)) {
			if strings.Contains(m.Plain, ref) {
				confirmations++
			}
		}
		if confirmations != 1 {
			t.Errorf("chat %d: %d messages name %s, want 1", 3000+i, confirmations, ref)
		}
	}

	// Each chat's updates were delivered in order: no POST of an update
	// before the chat's previous update was accepted; both instances took
	// part; some updates went to both.
	accepted := map[string]int{}
	duplicated := 0
	for _, p := range persons {
		ids := chatUpdates(t, tg, p.u.ID)
		var prevOK time.Time
		for _, id := range ids {
			pushes := tg.Pushes(id)
			var ok time.Time
			for _, push := range pushes {
				if push.At.Before(prevOK) {
					t.Errorf("chat %d: update %d posted before the previous update was accepted", p.u.ID, id)
				}
				if push.Code == http.StatusOK {
					accepted[push.URL]++
					if ok.IsZero() {
						ok = push.Done
					}
				}
			}
			if tg.Delivered(id) != 1 || ok.IsZero() {
				t.Errorf("chat %d: update %d accepted %d times (pushes %+v)", p.u.ID, id, tg.Delivered(id), pushes)
			}
			attempts := map[int]int{}
			for _, push := range pushes {
				attempts[push.Attempt]++
				if attempts[push.Attempt] == 2 {
					duplicated++
				}
			}
			prevOK = ok
		}
	}
	if accepted[hookA] == 0 || accepted[hookB] == 0 {
		t.Errorf("updates accepted by instance A: %d, B: %d; want both", accepted[hookA], accepted[hookB])
	}
	if duplicated == 0 {
		t.Errorf("no update reached both instances")
	}
	t.Logf("%d appeals; updates accepted by A: %d, by B: %d; %d sent to both", people, accepted[hookA], accepted[hookB], duplicated)
	checkTelegramRules(t, tg)
	for _, s := range []*server{a, b} {
		if logs := s.logs.String(); strings.Contains(logs, testWebhookSecret) || strings.Contains(logs, "Mammadov") || strings.Contains(logs, "TEST-token") {
			t.Errorf("logs show the webhook secret, a name or the token")
		}
	}
}

// chatUpdates returns the ids of the updates in chatID, in order.
func chatUpdates(tb testing.TB, tg *telegramtest.Server, chatID int64) []int64 {
	tb.Helper()
	type msg struct {
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
	}
	var ids []int64
	for id := int64(1001); ; id++ {
		raw := tg.Update(id)
		if raw == nil {
			return ids
		}
		var u struct {
			Message       *msg `json:"message"`
			CallbackQuery *struct {
				Message *msg `json:"message"`
			} `json:"callback_query"`
		}
		if err := json.Unmarshal(raw, &u); err != nil {
			tb.Fatalf("update %d: %v", id, err)
		}
		switch {
		case u.Message != nil && u.Message.Chat.ID == chatID,
			u.CallbackQuery != nil && u.CallbackQuery.Message != nil && u.CallbackQuery.Message.Chat.ID == chatID:
			ids = append(ids, id)
		}
	}
}

func lastChars(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestServeRefusesToPollWhileAWebhookIsSet checks the way from webhook mode
// back to long polling.
func TestServeRefusesToPollWhileAWebhookIsSet(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	a, _ := startWebhookServe(t, tg, url)
	if !waitUntil(10*time.Second, func() bool { u, _ := tg.Webhook(); return u != "" }) {
		t.Fatalf("serve did not register the webhook; logs:\n%s", a.logs)
	}
	a.stop()

	env := map[string]string{"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": tg.URL, "STAFF_ADDR": freeAddr(t),
		"DATA_KEY": storetest.DataKey(t)}
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), []string{"serve"}, getenv, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "a webhook is set at "+testWebhookURL) || !strings.Contains(err.Error(), "migrantbot webhook delete") {
		t.Fatalf("serve with a webhook set: %v", err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"webhook", "info"}, getenv, strings.NewReader(""), &out, io.Discard); err != nil || !strings.Contains(out.String(), testWebhookURL) {
		t.Errorf("webhook info: %v, %q", err, out.String())
	}
	if err := run(context.Background(), []string{"webhook", "delete"}, getenv, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("webhook delete: %v", err)
	}
	if u, _ := tg.Webhook(); u != "" {
		t.Fatalf("webhook still set at %q", u)
	}
	startServe(t, tg, url)
	p := newPerson(t, tg, 4000, "en")
	p.text("/start")
	p.wantButton("l:en")
	checkTelegramRules(t, tg)
}

func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func TestWebhookConfiguration(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no secret", map[string]string{"WEBHOOK_URL": testWebhookURL}, "WEBHOOK_SECRET is not set"},
		{"bad secret", map[string]string{"WEBHOOK_URL": testWebhookURL, "WEBHOOK_SECRET": "has spaces"}, "WEBHOOK_SECRET: want"},
		{"relative URL", map[string]string{"WEBHOOK_URL": "/telegram", "WEBHOOK_SECRET": "x"}, "WEBHOOK_URL: want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"WEBHOOK_URL": testWebhookURL, "WEBHOOK_SECRET": "x"}[k]
	})
	if err != nil || cfg.WebhookAddr != "127.0.0.1:8443" || webhookPath(cfg) != "/telegram/hook" {
		t.Errorf("defaults: %v, addr %q, path %q", err, cfg.WebhookAddr, webhookPath(cfg))
	}
}
