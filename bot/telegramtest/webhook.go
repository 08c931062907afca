package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// SecretHeader is the header in which Telegram sends a webhook's secret_token.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// webhookState is the server's webhook: what setWebhook registered and the
// push delivery of the queue to it. Guarded by Server.mu.
type webhookState struct {
	url     string
	secret  string
	maxConn int // max_connections of setWebhook
	// targets, when set by SetWebhookTargets, replace url as the addresses
	// updates are POSTed to: a load balancer in front of several instances.
	targets []string
	dupProb float64
	pushing bool             // the push loop runs
	flight  map[*queued]bool // queue entries being delivered
	ok      map[int64]int    // update id -> deliveries answered with 2xx
	posts   map[int64][]Push // update id -> every POST made for it
	// twice holds the callback queries whose update was pushed to two
	// targets at once: the second answer is refused, as Telegram would,
	// but it is not the bot's fault.
	twice  map[string]bool
	client *http.Client
}

// Push is one POST of an update to a webhook, with the answer it got.
type Push struct {
	UpdateID int64
	URL      string
	// Attempt counts the tries of the update, from 1; two pushes with the
	// same Attempt are one update sent to two targets at once.
	Attempt int
	// Code is the HTTP status answered, 0 when the request failed.
	Code int
	At   time.Time // when the POST started
	Done time.Time // when its answer (or failure) came
}

func webhookConflict() *apiError {
	return &apiError{code: http.StatusConflict, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
}

var secretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// setWebhook registers the webhook. Telegram wants an HTTPS URL; the double
// also takes plain HTTP to a loopback host, so that tests can point it at a
// local server.
func (s *Server) setWebhook(_ context.Context, p map[string]string) (any, *apiError) {
	raw := p["url"]
	secret, hasSecret := p["secret_token"]
	if hasSecret && !secretToken.MatchString(secret) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	maxConn := 40
	if v, ok := p["max_connections"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, badRequest("bad webhook: max_connections must be between 1 and 100")
		}
		maxConn = n
	}
	if raw != "" {
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "":
			return nil, badRequest("bad webhook: Failed to resolve host: Name or service not known")
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		default:
			return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p["drop_pending_updates"] == "true" {
		s.queue = nil
	}
	s.hook.url, s.hook.secret, s.hook.maxConn = raw, secret, maxConn
	if raw != "" {
		s.startPushLocked()
	}
	s.broadcast()
	return true, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) deleteWebhook(_ context.Context, p map[string]string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p["drop_pending_updates"] == "true" {
		s.queue = nil
	}
	s.hook.url, s.hook.secret = "", ""
	s.broadcast()
	return true, nil
}

func (s *Server) getWebhookInfo(context.Context, map[string]string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := map[string]any{"url": s.hook.url, "has_custom_certificate": false, "pending_update_count": len(s.queue)}
	if s.hook.url != "" {
		info["max_connections"] = s.hook.maxConn
	}
	return info, nil
}

// Webhook returns the webhook URL and secret token the bot registered, ""
// when none is set.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook.url, s.hook.secret
}

// SetWebhookTargets makes the server POST updates to urls instead of the
// registered webhook URL, as a load balancer in front of several bot
// instances would: each update goes to one of them at random and, with
// probability duplicateProb, to a second one as well (Telegram delivering
// again an update whose answer it did not get). Delivery starts only while
// a webhook is set. nil urls go back to the registered URL.
func (s *Server) SetWebhookTargets(urls []string, duplicateProb float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook.targets = append([]string(nil), urls...)
	s.hook.dupProb = duplicateProb
	s.broadcast()
}

// startPushLocked starts the push loop once; s.mu must be held.
func (s *Server) startPushLocked() {
	if s.hook.pushing || s.done {
		return
	}
	s.hook.pushing = true
	if s.hook.flight == nil {
		s.hook.flight = map[*queued]bool{}
		s.hook.ok = map[int64]int{}
		s.hook.posts = map[int64][]Push{}
		s.hook.twice = map[string]bool{}
	}
	s.hook.client = &http.Client{Timeout: 60 * time.Second}
	go s.pushLoop()
}

// pushLoop delivers the queue to the webhook while one is set, like
// Telegram: chats in parallel, one chat's updates one at a time and in
// order, each POSTed again until a webhook answers it with a 2xx. An
// accepted update leaves the queue (Pending) and counts as confirmed for
// Offset and WaitOffset, which then wait for every update below the offset
// to be accepted, as they wait for a getUpdates offset in polling mode.
func (s *Server) pushLoop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.closing
		cancel()
	}()
	for {
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			return
		}
		if s.hook.url != "" {
			sortQueue(s.queue)
			head := map[string]bool{}
			for _, q := range s.queue {
				chat := chatKey(q)
				if head[chat] {
					continue // the chat's earlier update is not done
				}
				head[chat] = true
				if !s.hook.flight[q] {
					s.hook.flight[q] = true
					go s.push(ctx, q)
				}
			}
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-s.closing:
			return
		}
	}
}

// push POSTs one update until a webhook answers 2xx, the webhook is deleted
// or the server closes.
func (s *Server) push(ctx context.Context, q *queued) {
	wait := 10 * time.Millisecond
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		if s.hook.url == "" || s.done {
			delete(s.hook.flight, q)
			s.mu.Unlock()
			return
		}
		urls := []string{s.hook.url}
		if n := len(s.hook.targets); n > 0 {
			i := rand.IntN(n)
			urls = []string{s.hook.targets[i]}
			if n > 1 && rand.Float64() < s.hook.dupProb {
				urls = append(urls, s.hook.targets[(i+1+rand.IntN(n-1))%n])
				if cb, ok := s.cbByUpdate[q.id]; ok {
					s.hook.twice[cb] = true
				}
			}
		}
		secret, client := s.hook.secret, s.hook.client
		s.mu.Unlock()

		// A duplicate goes to both at once; the chat's next update waits
		// for both answers.
		codes := make(chan Push, len(urls))
		for _, u := range urls {
			go func() { codes <- s.post(ctx, client, u, secret, q, attempt) }()
		}
		delivered := false
		var pushes []Push
		for range urls {
			p := <-codes
			pushes = append(pushes, p)
			delivered = delivered || (p.Code >= 200 && p.Code < 300)
		}

		s.mu.Lock()
		s.hook.posts[q.id] = append(s.hook.posts[q.id], pushes...)
		if delivered {
			s.hook.ok[q.id]++
			delete(s.hook.flight, q)
			for i, e := range s.queue {
				if e == q {
					s.queue = append(s.queue[:i], s.queue[i+1:]...)
					break
				}
			}
			// Offset stays meaningful: every update below it was delivered.
			low := s.nextUpdate
			for _, e := range s.queue {
				low = min(low, e.id)
			}
			s.offset = max(s.offset, low)
		}
		s.broadcast()
		s.mu.Unlock()
		if delivered {
			return
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			s.mu.Lock()
			delete(s.hook.flight, q)
			s.mu.Unlock()
			return
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

func (s *Server) post(ctx context.Context, client *http.Client, target, secret string, q *queued, attempt int) Push {
	p := Push{UpdateID: q.id, URL: target, Attempt: attempt, At: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(q.raw))
	if err != nil {
		return p
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	resp, err := client.Do(req)
	p.Done = time.Now()
	if err != nil {
		return p
	}
	resp.Body.Close()
	p.Code = resp.StatusCode
	return p
}

// chatKey names the chat an update belongs to, for the per-chat order; an
// update without a chat is its own.
func chatKey(q *queued) string {
	type msg struct {
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
	}
	var u struct {
		Message       *msg `json:"message"`
		EditedMessage *msg `json:"edited_message"`
		CallbackQuery *struct {
			Message *msg `json:"message"`
		} `json:"callback_query"`
	}
	if json.Unmarshal(q.raw, &u) == nil {
		m := u.Message
		if m == nil {
			m = u.EditedMessage
		}
		if m == nil && u.CallbackQuery != nil {
			m = u.CallbackQuery.Message
		}
		if m != nil && m.Chat.ID != 0 {
			return fmt.Sprint("chat ", m.Chat.ID)
		}
	}
	return fmt.Sprint("update ", q.id)
}

// Delivered reports how many times a webhook answered update updateID with a
// 2xx.
func (s *Server) Delivered(updateID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hook.ok[updateID]
}

// Pushes returns every POST of update updateID to a webhook, in order of
// their answers.
func (s *Server) Pushes(updateID int64) []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.hook.posts[updateID]...)
}

// WaitDelivered waits until a webhook answered update updateID with a 2xx;
// on timeout it fails the test with the answers it got. Call it from the
// test's goroutine.
func (s *Server) WaitDelivered(tb testing.TB, updateID int64, timeout time.Duration) {
	tb.Helper()
	if !s.waitFor(timeout, func() bool { return s.hook.ok[updateID] > 0 }) {
		tb.Fatalf("telegramtest: update %d not delivered to a webhook after %v; posts: %+v", updateID, timeout, s.Pushes(updateID))
	}
}

// WaitNoPending waits until no update is waiting for delivery (by a webhook's
// 2xx, or by a getUpdates offset); on timeout it fails the test. Unlike
// WaitOffset it also waits for redelivered updates. Call it from the test's
// goroutine.
func (s *Server) WaitNoPending(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	if !s.waitFor(timeout, func() bool { return len(s.queue) == 0 }) {
		tb.Fatalf("telegramtest: %d updates still pending after %v", s.Pending(), timeout)
	}
}
