package telegramtest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot/bot/telegramtest"
)

// hookRecorder is a webhook for the tests: it records what it got and
// answers with the status fail returns (200 when fail is nil).
type hookRecorder struct {
	mu      sync.Mutex
	name    string
	secrets []string
	ids     []int64
	fail    func(id int64) int
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var u struct {
		UpdateID int64 `json:"update_id"`
	}
	_ = json.Unmarshal(body, &u)
	h.mu.Lock()
	h.secrets = append(h.secrets, r.Header.Get(telegramtest.SecretHeader))
	h.ids = append(h.ids, u.UpdateID)
	fail := h.fail
	h.mu.Unlock()
	if fail != nil {
		if code := fail(u.UpdateID); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (h *hookRecorder) got() (ids []int64, secrets []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int64(nil), h.ids...), append([]string(nil), h.secrets...)
}

func newHook(t *testing.T) (*hookRecorder, string) {
	t.Helper()
	h := &hookRecorder{}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hook"
}

func setWebhook(t *testing.T, api *tgbotapi.BotAPI, url, secret string) {
	t.Helper()
	params := tgbotapi.Params{"url": url}
	params.AddNonEmpty("secret_token", secret)
	if _, err := api.MakeRequest("setWebhook", params); err != nil {
		t.Fatalf("setWebhook: %v", err)
	}
}

func TestWebhookMethods(t *testing.T) {
	s, api := newClient(t)
	tests := []struct {
		name, url, secret, wantErr string
	}{
		{"plain http elsewhere", "http://bot.example.org/hook", "", "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"},
		{"bad secret", "https://bot.example.org/hook", "no spaces allowed", "Bad Request: secret token contains unallowed characters"},
		{"https", "https://bot.example.org/hook", "s3cret_-X", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			params := tgbotapi.Params{"url": tc.url}
			params.AddNonEmpty("secret_token", tc.secret)
			_, err := api.MakeRequest("setWebhook", params)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("setWebhook: %v", err)
				}
				return
			}
			if e := apiError(t, err); e.Message != tc.wantErr {
				t.Errorf("setWebhook error %q, want %q", e.Message, tc.wantErr)
			}
		})
	}
	if url, secret := s.Webhook(); url != "https://bot.example.org/hook" || secret != "s3cret_-X" {
		t.Errorf("Webhook() = %q, %q", url, secret)
	}
	s.SendText(alice, "hi")
	info, err := api.GetWebhookInfo()
	if err != nil || info.URL != "https://bot.example.org/hook" || info.PendingUpdateCount != 1 {
		t.Errorf("getWebhookInfo = %+v, %v", info, err)
	}
	_, err = api.GetUpdates(tgbotapi.UpdateConfig{})
	if e := apiError(t, err); e.Code != http.StatusConflict || e.Message != "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" {
		t.Errorf("getUpdates with a webhook: %d %q", e.Code, e.Message)
	}
	if _, err := api.Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		t.Fatal(err)
	}
	if info, err := api.GetWebhookInfo(); err != nil || info.URL != "" {
		t.Errorf("after deleteWebhook: %+v, %v", info, err)
	}
	if ups, err := api.GetUpdates(tgbotapi.UpdateConfig{}); err != nil || len(ups) != 1 {
		t.Errorf("getUpdates after deleteWebhook: %d updates, %v", len(ups), err)
	}
	for _, c := range s.Rejected() {
		if c.Method == "getUpdates" || c.Method == "setWebhook" {
			continue // the refusals asked for above
		}
		t.Errorf("rejected %s: %s", c.Method, c.Description)
	}
}

func TestWebhookPushRetriesUntilAccepted(t *testing.T) {
	s, api := newClient(t)
	hook, url := newHook(t)
	var mu sync.Mutex
	failures := map[int64]int{}
	hook.fail = func(id int64) int {
		mu.Lock()
		defer mu.Unlock()
		if failures[id] < 2 {
			failures[id]++
			return http.StatusServiceUnavailable
		}
		return 0
	}
	first := s.SendText(alice, "one") // queued before the webhook: delivered once it is set
	setWebhook(t, api, url, "hook-secret")
	second := s.SendText(alice, "two")
	s.WaitDelivered(t, second, 5*time.Second)
	s.WaitOffset(t, second+1, time.Second)

	ids, secrets := hook.got()
	want := []int64{first, first, first, second, second, second}
	if len(ids) != len(want) {
		t.Fatalf("posted %v, want %v", ids, want)
	}
	for i := range want {
		if ids[i] != want[i] || secrets[i] != "hook-secret" {
			t.Errorf("post %d: update %d secret %q, want %d with the secret", i, ids[i], secrets[i], want[i])
		}
	}
	if n := s.Delivered(first); n != 1 {
		t.Errorf("Delivered(%d) = %d, want 1", first, n)
	}
	if p := s.Pushes(first); len(p) != 3 || p[0].Code != http.StatusServiceUnavailable || p[2].Code != http.StatusOK {
		t.Errorf("pushes of %d: %+v", first, p)
	}
	if s.Pending() != 0 {
		t.Errorf("pending %d after delivery", s.Pending())
	}
}

func TestWebhookTargetsKeepChatOrder(t *testing.T) {
	s, api := newClient(t)
	hooks := make([]*hookRecorder, 2)
	var urls []string
	for i := range hooks {
		var u string
		hooks[i], u = newHook(t)
		hooks[i].fail = func(id int64) int {
			if id%3 == 0 && time.Now().UnixNano()%2 == 0 {
				return http.StatusInternalServerError
			}
			return 0
		}
		urls = append(urls, u)
	}
	s.SetWebhookTargets(urls, 0.5)
	setWebhook(t, api, "https://bot.example.org/hook", "k")
	bob := telegramtest.User{ID: 502, FirstName: "Bob"}
	var aliceIDs, bobIDs []int64
	for range 20 {
		aliceIDs = append(aliceIDs, s.SendText(alice, "a"))
		bobIDs = append(bobIDs, s.SendText(bob, "b"))
	}
	s.WaitOffset(t, max(aliceIDs[19], bobIDs[19])+1, 10*time.Second)

	// The first 2xx of each update comes after the first 2xx of the chat's
	// previous one, and no POST of an update starts before it.
	for _, ids := range [][]int64{aliceIDs, bobIDs} {
		var prevOK time.Time
		for _, id := range ids {
			pushes := s.Pushes(id)
			if s.Delivered(id) != 1 || len(pushes) == 0 {
				t.Fatalf("update %d: delivered %d, pushes %+v", id, s.Delivered(id), pushes)
			}
			for _, p := range pushes {
				if p.At.Before(prevOK) {
					t.Errorf("update %d posted at %v, before its chat's previous update was accepted at %v", id, p.At, prevOK)
				}
			}
			for _, p := range pushes {
				if p.Code == http.StatusOK {
					prevOK = p.Done
					break
				}
			}
		}
	}
	both := 0
	for _, h := range hooks {
		ids, secrets := h.got()
		if len(ids) > 0 {
			both++
		}
		for _, sec := range secrets {
			if sec != "k" {
				t.Fatalf("secret header %q, want k", sec)
			}
		}
	}
	if both != 2 {
		t.Errorf("only %d of 2 targets got updates", both)
	}
}
