package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

const testToken = "4242:SECRET-test-token"

var (
	alice = telegramtest.User{ID: 501, FirstName: "Alice", LanguageCode: "ru"}
	bob   = telegramtest.User{ID: 502, FirstName: "Bob", LanguageCode: "az"}
)

// logBuffer collects the bot's logs so that tests can look for what must
// never be in them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(tb testing.TB) (*slog.Logger, *logBuffer) {
	tb.Helper()
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// memOutbox is an in-memory outbox for the bot's tests; the real one is in
// the store and tested there. It follows the store's rules: a message added
// by an update is left to the immediate delivery for a grace period before
// Due hands it out, and Due claims what it hands out for a lease.
type memOutbox struct {
	mu      sync.Mutex
	nextID  int64
	grace   time.Duration // how long a new message is left to the immediate delivery
	lease   time.Duration // how long Due's claim lasts
	msgs    map[int64]*outboxEntry
	retries []retryCall
	blocked []retryCall
	dues    int // calls of Due
	// failMarkSent makes the next calls of MarkSent fail.
	failMarkSent int
}

type outboxEntry struct {
	o       migrantbot.Outgoing
	sent    bool
	blocked bool
	due     time.Time
}

// retryCall is one call of Retry or Blocked.
type retryCall struct {
	id     int64
	wait   time.Duration
	reason string
}

func newMemOutbox() *memOutbox {
	return &memOutbox{msgs: map[int64]*outboxEntry{}, grace: 30 * time.Second, lease: time.Minute}
}

// add stores messages as an update's transaction would, left for the
// immediate delivery that follows it.
func (m *memOutbox) add(chatID int64, msgs ...migrantbot.Message) []migrantbot.Outgoing {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []migrantbot.Outgoing
	for _, msg := range msgs {
		m.nextID++
		o := migrantbot.Outgoing{ID: m.nextID, ChatID: chatID, Message: msg}
		m.msgs[o.ID] = &outboxEntry{o: o, due: time.Now().Add(m.grace)}
		out = append(out, o)
	}
	return out
}

func (m *memOutbox) MarkSent(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.msgs[id]
	if !ok {
		return fmt.Errorf("outbox: no message %d", id)
	}
	if m.failMarkSent > 0 {
		m.failMarkSent--
		return errors.New("outbox: connection refused")
	}
	e.sent = true
	return nil
}

func (m *memOutbox) Retry(_ context.Context, id int64, wait time.Duration, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.msgs[id]
	if !ok {
		return fmt.Errorf("outbox: no message %d", id)
	}
	m.retries = append(m.retries, retryCall{id: id, wait: wait, reason: reason})
	if !e.sent && !e.blocked {
		e.due = time.Now().Add(wait)
	}
	return nil
}

func (m *memOutbox) Blocked(_ context.Context, id int64, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.msgs[id]
	if !ok {
		return fmt.Errorf("outbox: no message %d", id)
	}
	m.blocked = append(m.blocked, retryCall{id: id, reason: reason})
	e.blocked = true
	return nil
}

func (m *memOutbox) Due(_ context.Context, limit int) ([]migrantbot.Outgoing, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	var ids []int64
	for id, e := range m.msgs {
		if !e.sent && !e.blocked && !e.due.After(now) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []migrantbot.Outgoing
	for _, id := range ids[:min(limit, len(ids))] {
		m.msgs[id].due = now.Add(m.lease)
		out = append(out, m.msgs[id].o)
	}
	m.dues++
	return out, nil
}

func (m *memOutbox) setFailMarkSent(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failMarkSent = n
}

// dueCalls returns how many times Due was called.
func (m *memOutbox) dueCalls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dues
}

// waitAllSent waits until every message in the outbox is marked sent.
func (m *memOutbox) waitAllSent(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	m.mu.Lock()
	var all []migrantbot.Outgoing
	for _, e := range m.msgs {
		all = append(all, e.o)
	}
	m.mu.Unlock()
	m.waitSent(tb, all, timeout)
}

func (m *memOutbox) sent(id int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.msgs[id] != nil && m.msgs[id].sent
}

// waitSent waits until every message of out is marked sent.
func (m *memOutbox) waitSent(tb testing.TB, out []migrantbot.Outgoing, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for _, o := range out {
		for !m.sent(o.ID) {
			if time.Now().After(deadline) {
				tb.Fatalf("outbox message %d not marked sent after %v", o.ID, timeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (m *memOutbox) retryCalls() []retryCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.retries)
}

func (m *memOutbox) blockedCalls() []retryCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.blocked)
}

// handled is one call of the test handler.
type handled struct {
	u  migrantbot.Update
	in migrantbot.Input
}

// recorder is a HandleFunc for tests: it records every input, and by default
// answers each with one message saying what it got (user text escaped, as
// the dialogs do).
type recorder struct {
	mu      sync.Mutex
	calls   []handled
	changed chan struct{}
	outbox  *memOutbox
	// reply, when set, decides the answer instead of the echo.
	reply func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error)
}

func newRecorder(ob *memOutbox) *recorder {
	return &recorder{outbox: ob, changed: make(chan struct{})}
}

func (r *recorder) handle(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
	r.mu.Lock()
	r.calls = append(r.calls, handled{u: u, in: in})
	close(r.changed)
	r.changed = make(chan struct{})
	reply := r.reply
	r.mu.Unlock()
	if reply != nil {
		return reply(ctx, u, in)
	}
	return migrantbot.Handled{Outgoing: r.outbox.add(u.ChatID, migrantbot.Message{Text: echo(in)})}, nil
}

func echo(in migrantbot.Input) string {
	return fmt.Sprintf("<b>%d</b> /%s %s", in.Kind, html.EscapeString(in.Command), html.EscapeString(in.Text+in.Data+in.Phone))
}

func (r *recorder) setReply(f func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reply = f
}

func (r *recorder) handledCalls() []handled {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// waitCalls waits until the handler was called n times.
func (r *recorder) waitCalls(tb testing.TB, n int, timeout time.Duration) []handled {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		got, ch := len(r.calls), r.changed
		r.mu.Unlock()
		if got >= n {
			return r.handledCalls()
		}
		select {
		case <-ch:
		case <-deadline:
			tb.Fatalf("handler called %d times after %v, want %d", got, timeout, n)
		}
	}
}

// harness is a bot connected to a Bot API double.
type harness struct {
	tg     *telegramtest.Server
	bot    *Bot
	rec    *recorder
	outbox *memOutbox
	logs   *logBuffer
}

func newHarness(tb testing.TB, opt Options) *harness {
	tb.Helper()
	tg := telegramtest.New(tb, testToken)
	logger, logs := newLogger(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	api, err := Connect(ctx, tg.URL, testToken, nil, logger)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	ob := newMemOutbox()
	rec := newRecorder(ob)
	if opt.PollTimeout == 0 {
		opt.PollTimeout = 1 // short, so that cancelled polls end fast in the double
	}
	if opt.APIURL == "" {
		opt.APIURL = tg.URL
	}
	b := New(api, rec.handle, ob, logger, opt)
	b.retryMin, b.retryMax = 10*time.Millisecond, 50*time.Millisecond
	b.pollWaitMin, b.pollWaitMax = 10*time.Millisecond, 100*time.Millisecond
	b.grace = 3 * time.Second
	b.outboxEvery = 20 * time.Millisecond
	b.sendBackoff = []time.Duration{50 * time.Millisecond}
	return &harness{tg: tg, bot: b, rec: rec, outbox: ob, logs: logs}
}

// poll runs Poll until the returned stop is called (or the test ends); stop
// cancels it and fails the test unless Poll returns nil in time.
func (h *harness) poll(tb testing.TB) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Poll(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Poll returned %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				tb.Errorf("Poll did not return after cancel")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// runOutbox runs the outbox worker until the test ends, as cmd runs it next
// to the polling; the messages a delivery hands back to the outbox (a chat's
// pace, a 429, a failure) reach Telegram through it.
func (h *harness) runOutbox(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.RunOutbox(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("RunOutbox returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("RunOutbox did not return after cancel")
		}
	})
}

// noRejected fails the test if Telegram would have refused any call.
func (h *harness) noRejected(tb testing.TB) {
	tb.Helper()
	for _, c := range h.tg.Rejected() {
		tb.Errorf("Telegram refused %s: %d %s (params %v)", c.Method, c.Code, c.Description, c.Params)
	}
}

// parsedPlain returns what a person sees of an HTML text.
func parsedPlain(tb testing.TB, text string) string {
	tb.Helper()
	plain, _, err := telegramtest.ParseHTML(text)
	if err != nil {
		tb.Fatalf("ParseHTML: %v", err)
	}
	return plain
}

// callsTo returns the calls of method for chatID, in order.
func callsTo(tg *telegramtest.Server, method string, chatID int64) []telegramtest.Call {
	var out []telegramtest.Call
	for _, c := range tg.Calls(method) {
		if c.Params["chat_id"] == strconv.FormatInt(chatID, 10) {
			out = append(out, c)
		}
	}
	return out
}
