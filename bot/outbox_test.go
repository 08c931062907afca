package bot

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

// wave adds n numbered messages for each chat to the outbox, as updates
// would, and returns them with the texts each chat must end up with.
func wave(ob *memOutbox, chats []int64, name string, n int, want map[int64][]string) []migrantbot.Outgoing {
	var out []migrantbot.Outgoing
	for _, chat := range chats {
		for i := range n {
			text := fmt.Sprintf("%s %d to %d", name, i, chat)
			out = append(out, ob.add(chat, migrantbot.Message{Text: text})...)
			want[chat] = append(want[chat], text)
		}
	}
	return out
}

// checkExactlyOnceInOrder fails the test unless every chat got exactly the
// messages of want, each once, in order.
func checkExactlyOnceInOrder(tb testing.TB, tg *telegramtest.Server, want map[int64][]string) {
	tb.Helper()
	for chat, texts := range want {
		var got []string
		for _, m := range tg.Messages(chat) {
			got = append(got, m.Plain)
		}
		if !slices.Equal(got, texts) {
			tb.Errorf("chat %d got\n%q\nwant\n%q", chat, got, texts)
		}
	}
}

func TestOutboxRateLimitedThenAccepted(t *testing.T) {
	tests := []struct {
		name    string
		inPlace time.Duration
	}{
		{name: "default"},
		{name: "nothing waited in place", inPlace: time.Nanosecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{})
			if tc.inPlace != 0 {
				h.bot.inPlace = tc.inPlace
			}
			h.runOutbox(t)
			chats := []int64{701, 702, 703, 704}
			want := map[int64][]string{}
			// Telegram answers the next sends with 429 retry_after 1, then 200.
			h.tg.FailNext("sendMessage", 5, 429, 1)
			first := wave(h.outbox, chats, "first", 2, want)
			h.bot.Deliver(t.Context(), first)
			// The people write again while some of their messages wait in the
			// outbox: the answers must queue behind them.
			second := wave(h.outbox, chats, "second", 2, want)
			h.bot.Deliver(t.Context(), second)

			h.outbox.waitSent(t, append(first, second...), 15*time.Second)
			checkExactlyOnceInOrder(t, h.tg, want)
			limited := 0
			for _, c := range h.tg.Calls("sendMessage") {
				if c.Code == 429 {
					limited++
				}
			}
			if limited != 5 {
				t.Errorf("%d sends were rate limited, want 5", limited)
			}
			h.noRejected(t)
		})
	}
}

func TestOutboxTelegramDown(t *testing.T) {
	tests := []struct {
		name string
		code int
	}{
		{name: "connection dropped", code: 0},
		{name: "bad gateway", code: 502},
		{name: "rate limited throughout", code: 429},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, Options{})
			h.runOutbox(t)
			chats := []int64{801, 802, 803}
			want := map[int64][]string{}
			h.tg.Down(tc.code)
			before := wave(h.outbox, chats, "before", 3, want)
			h.bot.Deliver(t.Context(), before)
			// The worker keeps trying while Telegram is down.
			h.tg.WaitCalls(t, "sendMessage", 10, 10*time.Second)
			during := wave(h.outbox, chats, "during", 1, want)
			h.bot.Deliver(t.Context(), during)
			if n := len(h.tg.Messages(801)); n != 0 {
				t.Fatalf("%d messages arrived while down", n)
			}
			h.tg.Up()
			after := wave(h.outbox, chats, "after", 1, want)
			h.bot.Deliver(t.Context(), after)

			h.outbox.waitSent(t, slices.Concat(before, during, after), 20*time.Second)
			checkExactlyOnceInOrder(t, h.tg, want)
			h.noRejected(t)
		})
	}
}

func TestOutboxBlockedIsNotRetried(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.runOutbox(t)
	h.tg.Block(alice.ID)
	out := h.outbox.add(alice.ID, migrantbot.Message{Text: "your appeal"}, migrantbot.Message{Text: "its status"})
	other := h.outbox.add(bob.ID, migrantbot.Message{Text: "hello"})
	h.bot.Deliver(t.Context(), append(out, other...))
	h.outbox.waitSent(t, other, 5*time.Second)

	// Let the worker look for due messages a few times.
	claims := h.outbox.dueCalls()
	for h.outbox.dueCalls() < claims+5 {
		time.Sleep(10 * time.Millisecond)
	}
	if calls := callsTo(h.tg, "sendMessage", alice.ID); len(calls) != 1 || calls[0].Code != 403 {
		t.Errorf("sends to alice = %+v, want the one refused with 403", calls)
	}
	blocked := h.outbox.blockedCalls()
	if len(blocked) != 2 || blocked[0].id != out[0].ID || blocked[1].id != out[1].ID || blocked[0].reason != "Forbidden: bot was blocked by the user" {
		t.Errorf("Blocked calls = %+v, want one for each of alice's messages", blocked)
	}
	for _, r := range h.outbox.retryCalls() {
		t.Errorf("Retry(%d, %v, %q) called, want no retries", r.id, r.wait, r.reason)
	}

	// The person unblocks the bot: the next message goes out.
	h.tg.Unblock(alice.ID)
	next := h.outbox.add(alice.ID, migrantbot.Message{Text: "welcome back"})
	h.bot.Deliver(t.Context(), next)
	if !h.outbox.sent(next[0].ID) || len(h.tg.Messages(alice.ID)) != 1 {
		t.Errorf("after unblocking: %+v", h.tg.Messages(alice.ID))
	}
	h.noRejected(t)
}

func TestPerChatPacing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.runOutbox(t)
	const flooded = 900
	want := map[int64][]string{}
	flood := wave(h.outbox, []int64{flooded}, "flood", 10, want)
	var many []int64
	for i := range 10 {
		many = append(many, int64(910+i))
	}
	spread := wave(h.outbox, many, "one", 1, want)
	h.bot.Deliver(t.Context(), slices.Concat(flood, spread))
	h.outbox.waitSent(t, slices.Concat(flood, spread), 20*time.Second)
	checkExactlyOnceInOrder(t, h.tg, want)

	// The recorded times of the double are compared, with margins that only
	// a slower run can widen: no four messages to the flooded chat within a
	// second, three at once at the start.
	calls := callsTo(h.tg, "sendMessage", flooded)
	if len(calls) != 10 {
		t.Fatalf("%d sends to the flooded chat, want 10", len(calls))
	}
	for i := 0; i+3 < len(calls); i++ {
		if d := calls[i+3].At.Sub(calls[i].At); d < 800*time.Millisecond {
			t.Errorf("messages %d to %d went out within %v, want at most 3 a second", i, i+3, d)
		}
	}
	if d := calls[9].At.Sub(calls[0].At); d < 6*time.Second {
		t.Errorf("10 messages to one chat went out in %v, want about 7s", d)
	}
	if d := calls[2].At.Sub(calls[0].At); d > time.Second {
		t.Errorf("the first three messages took %v, want them at once", d)
	}
	// The other chats were not held up by the flooded one.
	var first, last time.Time
	for _, chat := range many {
		c := callsTo(h.tg, "sendMessage", chat)
		if len(c) != 1 {
			t.Fatalf("chat %d: %d sends, want 1", chat, len(c))
		}
		if first.IsZero() || c[0].At.Before(first) {
			first = c[0].At
		}
		if c[0].At.After(last) {
			last = c[0].At
		}
	}
	if d := last.Sub(first); d > time.Second {
		t.Errorf("10 messages to 10 chats took %v, want them at once", d)
	}
	h.noRejected(t)
}

func TestGroupPacing(t *testing.T) {
	h := newHarness(t, Options{})
	const group = -100123
	out := h.outbox.add(group, migrantbot.Message{Text: "1"}, migrantbot.Message{Text: "2"}, migrantbot.Message{Text: "3"}, migrantbot.Message{Text: "4"})
	h.bot.Deliver(t.Context(), out)
	if n := len(h.tg.Messages(group)); n != 3 {
		t.Errorf("%d messages to the group at once, want 3", n)
	}
	retries := h.outbox.retryCalls()
	if len(retries) != 1 || retries[0].id != out[3].ID || retries[0].wait < 2900*time.Millisecond || retries[0].reason != "" {
		t.Errorf("retries = %+v, want the fourth message in 3s (20 a minute)", retries)
	}
}

func TestNoDoubleSend(t *testing.T) {
	tests := []struct {
		name         string
		grace        time.Duration
		failMarkSent int
	}{
		// The worker may claim a message while the update's delivery sends it.
		{name: "worker races the delivery", grace: 0},
		// The outbox never heard that the message went out.
		{name: "mark sent fails", grace: 50 * time.Millisecond, failMarkSent: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.outbox.grace = tc.grace
			h.outbox.setFailMarkSent(tc.failMarkSent)
			h.runOutbox(t)
			h.poll(t)
			var last int64
			for i := range 6 {
				last = h.tg.SendText(telegramtest.User{ID: int64(950 + i%3), FirstName: "P"}, "hi "+strconv.Itoa(i))
			}
			h.tg.WaitOffset(t, last+1, 5*time.Second)
			for chat := int64(950); chat < 953; chat++ {
				h.tg.WaitMessages(t, chat, 2, 5*time.Second)
			}
			h.outbox.waitAllSent(t, 5*time.Second)
			// Give the worker a few more rounds to send anything twice.
			claims := h.outbox.dueCalls()
			for h.outbox.dueCalls() < claims+5 {
				time.Sleep(10 * time.Millisecond)
			}
			for chat := int64(950); chat < 953; chat++ {
				if got := h.tg.Messages(chat); len(got) != 2 {
					t.Errorf("chat %d got %d messages, want 2:\n%+v", chat, len(got), got)
				}
			}
			h.noRejected(t)
		})
	}
}

func TestShutdownReleasesClaimedMessages(t *testing.T) {
	h := newHarness(t, Options{})
	h.tg.Down(0)
	out := h.outbox.add(alice.ID, migrantbot.Message{Text: "a"}, migrantbot.Message{Text: "b"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h.bot.Deliver(ctx, out)
	retries := h.outbox.retryCalls()
	if len(retries) != 2 || retries[0].wait != 0 || retries[1].wait != 0 || retries[0].reason != "interrupted by shutdown" {
		t.Errorf("retries = %+v, want both released at once", retries)
	}
	if n := len(h.tg.Calls("sendMessage")); n != 0 {
		t.Errorf("%d sends after shutdown, want 0", n)
	}
}

func TestChatState(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sec := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name  string
		rate  float64
		steps func(c *chatState) // what happened to the chat
		at    time.Time
		want  time.Duration
	}{
		{name: "fresh chat", rate: chatRate, steps: func(c *chatState) {}, at: t0, want: 0},
		{name: "burst of three", rate: chatRate, steps: func(c *chatState) {
			c.take(t0)
			c.take(t0)
		}, at: t0, want: 0},
		{name: "fourth at once waits a second", rate: chatRate, steps: func(c *chatState) {
			c.take(t0)
			c.take(t0)
			c.take(t0)
		}, at: t0, want: time.Second},
		{name: "refilled over time", rate: chatRate, steps: func(c *chatState) {
			c.take(t0)
			c.take(t0)
			c.take(t0)
		}, at: sec(1.5), want: 0},
		{name: "group waits three seconds", rate: groupRate, steps: func(c *chatState) {
			c.take(t0)
			c.take(t0)
			c.take(t0)
		}, at: t0, want: 3 * time.Second},
		{name: "paused by a 429", rate: chatRate, steps: func(c *chatState) {
			c.pause(t0, sec(5))
		}, at: sec(1), want: 4 * time.Second},
		{name: "after the pause one goes at once", rate: chatRate, steps: func(c *chatState) {
			c.pause(t0, sec(5))
		}, at: sec(5), want: 0},
		{name: "after the pause the pace resumes", rate: chatRate, steps: func(c *chatState) {
			c.pause(t0, sec(5))
			c.take(sec(5))
		}, at: sec(5), want: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &chatState{rate: tc.rate, tokens: chatBurst, last: t0, queued: map[int64]time.Time{}}
			tc.steps(c)
			if got := c.delay(tc.at); got != tc.want {
				t.Errorf("delay = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestChatStateQueue(t *testing.T) {
	t0 := time.Now()
	c := &chatState{rate: chatRate, tokens: chatBurst, last: t0, queued: map[int64]time.Time{}}
	if c.behind(5, t0) {
		t.Error("a fresh chat holds messages back")
	}
	// Message 5 failed and waits 10s; 6 and 7 go back behind it.
	got := []time.Duration{c.requeue(5, t0, 10*time.Second, 0), c.requeue(6, t0, 0, 0), c.requeue(7, t0, 0, 0)}
	if want := []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("after a failure: due in %v, want %v", got, want)
	}
	// Messages paced out go one step apart, after those already waiting.
	got = []time.Duration{c.requeue(8, t0, time.Second, time.Second), c.requeue(9, t0, time.Second, time.Second)}
	if want := []time.Duration{11 * time.Second, 12 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("paced: due in %v, want %v", got, want)
	}
	c.done(8)
	c.done(9)
	if !c.behind(8, t0) || c.behind(4, t0) {
		t.Error("a newer message may overtake, or an older one must wait")
	}
	c.done(5)
	c.done(6)
	c.done(7)
	if c.behind(8, t0) {
		t.Error("the chat is still held after its messages went out")
	}
	// A hold whose message never comes back ends.
	c.requeue(9, t0, time.Second, 0)
	if c.behind(10, t0.Add(queueExpiry+2*time.Second)) {
		t.Error("an expired hold still holds")
	}
}
