package bot

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

func TestOffsetWaitsForCommit(t *testing.T) {
	h := newHarness(t, Options{})
	var down atomic.Bool
	down.Store(true)
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		if down.Load() {
			return migrantbot.Handled{}, errors.New("store: apply update: connection refused")
		}
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "saved"})}, nil
	})
	id := h.tg.SendText(alice, "my complaint")
	later := h.tg.SendText(alice, "and more")

	stop := h.poll(t)
	h.rec.waitCalls(t, 3, 5*time.Second) // retried in place...
	if got := h.tg.Offset(); got > id {
		t.Fatalf("offset moved to %d past the failing update %d", got, id)
	}
	for _, c := range h.rec.handledCalls() {
		if c.u.ID != id {
			t.Fatalf("update %d was handled while %d, before it in its chat, kept failing", c.u.ID, id)
		}
	}
	stop() // ...until the bot stops: then it stays with Telegram.
	if h.tg.Pending() != 2 || h.tg.Offset() > id {
		t.Fatalf("after stop: %d pending, offset %d; want both updates kept", h.tg.Pending(), h.tg.Offset())
	}

	down.Store(false)
	h.poll(t)
	h.tg.WaitOffset(t, later+1, 5*time.Second)
	sent := h.tg.WaitMessages(t, alice.ID, 2, 5*time.Second)
	if sent[0].Plain != "saved" || sent[1].Plain != "saved" {
		t.Errorf("messages = %+v", sent)
	}
	var order []int64
	for _, c := range h.rec.handledCalls() {
		if len(order) == 0 || order[len(order)-1] != c.u.ID {
			order = append(order, c.u.ID)
		}
	}
	if fmt.Sprint(order) != fmt.Sprint([]int64{id, later}) {
		t.Errorf("handling order %v, want %v", order, []int64{id, later})
	}
	h.noRejected(t)
}

func TestRetriedInPlaceUntilCommitted(t *testing.T) {
	h := newHarness(t, Options{})
	var failures atomic.Int32
	failures.Store(5)
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		if u.ChatID == alice.ID && failures.Add(-1) >= 0 {
			return migrantbot.Handled{}, errors.New("store: serialization failure")
		}
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "ok"})}, nil
	})
	h.poll(t)
	id := h.tg.SendText(alice, "x")
	other := h.tg.SendText(bob, "y")
	h.tg.WaitOffset(t, max(id, other)+1, 5*time.Second)
	h.tg.WaitMessages(t, alice.ID, 1, time.Second)
	h.tg.WaitMessages(t, bob.ID, 1, time.Second)
	if n := len(h.rec.handledCalls()); n != 7 {
		t.Errorf("handled %d times, want 7 (6 for alice, 1 for bob)", n)
	}
}

func TestDuplicateUpdateIsAcknowledged(t *testing.T) {
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
	h.poll(t)
	id := h.tg.SendText(alice, "hello")
	h.tg.WaitOffset(t, id+1, 5*time.Second)
	h.tg.Redeliver(id)
	next := h.tg.SendText(alice, "next")
	h.tg.WaitOffset(t, next+1, 5*time.Second)
	h.tg.WaitMessages(t, alice.ID, 2, 5*time.Second)
	if calls := h.rec.handledCalls(); len(calls) != 3 {
		t.Errorf("handled %d times, want 3", len(calls))
	}
	if sent := h.tg.Messages(alice.ID); len(sent) != 2 {
		t.Errorf("sent %d messages, want 2 (none for the duplicate)", len(sent))
	}
	if h.tg.Offset() < next+1 {
		t.Errorf("offset went back to %d", h.tg.Offset())
	}
}

func TestPerChatOrderWithParallelChats(t *testing.T) {
	// 25 updates a chat at once is a flood; the limit is tested on its own.
	h := newHarness(t, Options{Workers: 4, UpdateLimit: -1})
	var (
		mu         sync.Mutex
		seen       = map[int64][]string{}
		active     int
		maxActive  int
		activeChat = map[int64]bool{}
	)
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		mu.Lock()
		if activeChat[u.ChatID] {
			t.Errorf("chat %d handled twice at once", u.ChatID)
		}
		activeChat[u.ChatID] = true
		active++
		maxActive = max(maxActive, active)
		mu.Unlock()
		time.Sleep(time.Duration(rand.N(3000)) * time.Microsecond)
		mu.Lock()
		seen[u.ChatID] = append(seen[u.ChatID], in.Text)
		active--
		activeChat[u.ChatID] = false
		mu.Unlock()
		return migrantbot.Handled{}, nil
	})
	const chats, perChat = 8, 25
	var last int64
	for i := range perChat {
		for c := range chats {
			last = h.tg.SendText(telegramtest.User{ID: int64(1000 + c), FirstName: "P"}, fmt.Sprintf("%03d", i))
		}
	}
	h.poll(t)
	h.tg.WaitOffset(t, last+1, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	for c := range chats {
		got := seen[int64(1000+c)]
		if len(got) != perChat {
			t.Errorf("chat %d: %d updates handled, want %d", 1000+c, len(got), perChat)
			continue
		}
		for i, text := range got {
			if text != fmt.Sprintf("%03d", i) {
				t.Errorf("chat %d: update %d was %q: out of order", 1000+c, i, text)
				break
			}
		}
	}
	if maxActive < 2 || maxActive > 4 {
		t.Errorf("at most %d chats were handled at once, want 2 to 4 (Workers)", maxActive)
	}
}

func TestPollFinishesInFlightUpdatesOnCancel(t *testing.T) {
	h := newHarness(t, Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		close(entered)
		<-release
		if err := ctx.Err(); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("handling context ended early: %w", err)
		}
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "committed"})}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.bot.Poll(ctx) }()
	id := h.tg.SendText(alice, "in flight")
	<-entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Poll returned %v while an update was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Poll returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Poll did not return")
	}
	if sent := h.tg.Messages(alice.ID); len(sent) != 1 || sent[0].Plain != "committed" {
		t.Errorf("messages = %+v", sent)
	}
	if h.tg.Offset() != id+1 || h.tg.Pending() != 0 {
		t.Errorf("offset %d, %d pending: the committed update was not confirmed", h.tg.Offset(), h.tg.Pending())
	}
}

func TestPollGivesUpAfterGrace(t *testing.T) {
	h := newHarness(t, Options{})
	h.bot.grace = 100 * time.Millisecond
	entered := make(chan struct{})
	var once sync.Once
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		once.Do(func() { close(entered) })
		<-ctx.Done() // a transaction that hangs
		return migrantbot.Handled{}, ctx.Err()
	})
	stop := h.poll(t)
	id := h.tg.SendText(alice, "stuck")
	<-entered
	start := time.Now()
	stop()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Poll took %v to stop, want about the grace period", d)
	}
	if h.tg.Offset() > id || h.tg.Pending() != 1 {
		t.Errorf("offset %d, %d pending: the unfinished update was confirmed", h.tg.Offset(), h.tg.Pending())
	}
}

func TestPollSurvivesGetUpdatesFailures(t *testing.T) {
	h := newHarness(t, Options{})
	h.tg.FailNext("getUpdates", 1, 502, 0)
	h.tg.FailNext("getUpdates", 1, 409, 0)
	h.tg.FailNext("getUpdates", 1, 0, 0)
	id := h.tg.SendText(alice, "hi")
	h.poll(t)
	h.tg.WaitOffset(t, id+1, 5*time.Second)
	h.tg.WaitMessages(t, alice.ID, 1, 5*time.Second)
	if strings.Contains(h.logs.String(), testToken) {
		t.Error("the logs contain the bot token")
	}
}

func TestConnect(t *testing.T) {
	logger, logs := newLogger(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there yet

	type result struct {
		name string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		api, err := Connect(t.Context(), "http://"+addr+"/", testToken, nil, logger)
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{name: api.Self.UserName}
	}()
	time.Sleep(1500 * time.Millisecond) // at least one failed try
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	telegramtest.NewListener(t, testToken, l)
	select {
	case r := <-done:
		if r.err != nil || r.name != telegramtest.BotUsername {
			t.Fatalf("Connect = %q, %v", r.name, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not connect once the API was up")
	}
	if !strings.Contains(logs.String(), "cannot reach the Bot API") {
		t.Error("the failed tries were not logged")
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the logs contain the token:\n%s", logs)
	}
}

func TestConnectFailures(t *testing.T) {
	logger, logs := newLogger(t)
	tg := telegramtest.New(t, testToken)
	_, err := Connect(t.Context(), tg.URL, "4242:WRONG-token", nil, logger)
	if err == nil || !strings.Contains(err.Error(), "refused the bot token") || strings.Contains(err.Error(), "WRONG-token") {
		t.Errorf("wrong token: %v", err)
	}

	tg.FailNext("getMe", 100, 502, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_, err = Connect(ctx, tg.URL, testToken, nil, logger)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled connect: %v, want the context's error", err)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Errorf("the logs contain the token:\n%s", logs)
	}
}

func TestRedact(t *testing.T) {
	err := redact(fmt.Errorf("Post \"https://api.telegram.org/bot%s/getMe\": dial tcp: refused", testToken), testToken)
	if strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "bot<token>/getMe") {
		t.Errorf("redacted error = %q", err)
	}
}

func TestRegisterCommands(t *testing.T) {
	h := newHarness(t, Options{})
	byLang := map[string][]migrantbot.Command{
		"en": {{Name: "start", Description: "Start"}, {Name: "my_appeals", Description: "My appeals"}},
		"ru": {{Name: "start", Description: "Начать"}, {Name: "my_appeals", Description: "Мои обращения"}},
		"az": {{Name: "start", Description: "Başla"}, {Name: "my_appeals", Description: "Müraciətlərim"}},
	}
	if err := h.bot.RegisterCommands(t.Context(), byLang); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "My appeals", "ru": "Мои обращения", "az": "Müraciətlərim", "": "My appeals"} {
		got := h.tg.Commands("default", lang)
		if len(got) != 2 || got[1].Description != want {
			t.Errorf("commands for %q = %+v, want %q", lang, got, want)
		}
	}
	err := h.bot.RegisterCommands(t.Context(), map[string][]migrantbot.Command{"en": {{Name: "Start", Description: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "invalid command name") {
		t.Errorf("bad name: %v", err)
	}
	h.noRejected(t)
}
