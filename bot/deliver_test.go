package bot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

// longText builds an HTML text of about n characters with paragraphs, lines,
// tags that cross the split points, entities and characters outside the
// Basic Multilingual Plane.
func longText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "<b>Section %d</b>\n", i)
		case 1:
			b.WriteString("Права мигранта &amp; обязанности 😀 — <i>see the rules &lt;art. 5&gt; of the code</i> ")
		case 2:
			b.WriteString(`<a href="https://e-gov.az/?a=1&amp;b=2">link</a> and a long line without breaks `)
		case 3:
			b.WriteString("\n\n")
		}
	}
	return "<blockquote>" + b.String() + "</blockquote>"
}

func TestLongTextIsSplitIntoValidMessages(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{name: "paragraphs and tags", text: longText(20000)},
		{name: "one endless word", text: strings.Repeat("ж", 9000)},
		{name: "one endless bold line", text: "<b>" + strings.Repeat("word ", 2000) + "</b>"},
		{name: "emoji", text: strings.Repeat("😀", 5000)},
		{name: "entities", text: strings.Repeat("&lt;&amp;&gt; ", 3000)},
		{name: "exactly the limit", text: strings.Repeat("a", MaxTextLength)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			msg := migrantbot.Message{Text: tc.text, Buttons: [][]migrantbot.Button{{{Text: "Menu", Data: "menu"}}}}
			out := h.outbox.add(alice.ID, msg)
			h.bot.Deliver(t.Context(), out)

			h.noRejected(t)
			sent := h.tg.Messages(alice.ID)
			wantParts := (telegramtest.UTF16Len(parsedPlain(t, tc.text)) + MaxTextLength - 1) / MaxTextLength
			if len(sent) < wantParts {
				t.Fatalf("got %d messages, want at least %d", len(sent), wantParts)
			}
			var plains []string
			for i, m := range sent {
				if n := telegramtest.UTF16Len(m.Plain); n > MaxTextLength {
					t.Errorf("part %d is %d characters", i, n)
				}
				if hasButtons := len(m.Buttons) > 0; hasButtons != (i == len(sent)-1) {
					t.Errorf("part %d of %d has buttons: %v", i, len(sent), hasButtons)
				}
				plains = append(plains, m.Plain)
			}
			// Telegram trims the white space around each part; nothing else
			// may be lost or added.
			got, want := visible(strings.Join(plains, "")), visible(parsedPlain(t, tc.text))
			if got != want {
				t.Errorf("the parts do not add up to the text: got %d visible characters, want %d", len(got), len(want))
			}
			if !h.outbox.sent(out[0].ID) {
				t.Error("the message was not marked sent")
			}
		})
	}
}

// visible drops the white space of s.
func visible(s string) string {
	return strings.Join(strings.Fields(s), "")
}

func TestSplitKeepsFormatting(t *testing.T) {
	h := newHarness(t, Options{})
	text := "<b>" + strings.Repeat("bold ", 1000) + "</b>"
	h.bot.Deliver(t.Context(), h.outbox.add(alice.ID, migrantbot.Message{Text: text}))
	sent := h.tg.Messages(alice.ID)
	if len(sent) != 2 {
		t.Fatalf("got %d messages, want 2", len(sent))
	}
	for i, m := range sent {
		if len(m.Entities) != 1 || m.Entities[0].Type != "bold" || m.Entities[0].Length != telegramtest.UTF16Len(m.Plain) {
			t.Errorf("part %d entities = %+v, want all of it bold", i, m.Entities)
		}
	}
}

func TestUserTextSurvivesHTML(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.poll(t)
	h.runOutbox(t) // five answers to one chat: the last ones at its pace
	texts := []string{"a < b && c > d", "<b>not bold</b>", "Tom & Jerry &amp; &lt;", "<script>alert(1)</script>", `"quoted" 'single'`}
	for _, text := range texts {
		h.tg.SendText(alice, text)
	}
	sent := h.tg.WaitMessages(t, alice.ID, len(texts), 5*time.Second)
	for i, text := range texts {
		want := fmt.Sprintf("%d / %s", migrantbot.InputText, text)
		if sent[i].Plain != want {
			t.Errorf("message %d shows %q, want %q", i, sent[i].Plain, want)
		}
	}
	h.noRejected(t)
}

func TestKeyboards(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.runOutbox(t) // six messages to one chat: the last ones at its pace
	yes := [][]migrantbot.Button{{{Text: "Skip", Data: "skip"}}}
	out := h.outbox.add(alice.ID,
		migrantbot.Message{Text: "Share your phone", ContactButton: "📱 Share my number"},
		migrantbot.Message{Text: "Thanks", RemoveKeyboard: true},
		migrantbot.Message{Text: "Your phone?\nOr skip:", ContactButton: "Share", Buttons: yes},
		migrantbot.Message{Text: "One line only", RemoveKeyboard: true, Buttons: yes},
		migrantbot.Message{Text: "Bad buttons dropped", Buttons: [][]migrantbot.Button{
			{{Text: "ok", Data: "ok"}, {Text: "too long", Data: strings.Repeat("x", 65)}},
			{{Text: "", Data: "x"}, {Text: "no data"}},
		}},
	)
	h.bot.Deliver(t.Context(), out)
	h.outbox.waitSent(t, out, 10*time.Second)
	h.noRejected(t)
	sent := h.tg.Messages(alice.ID)
	if len(sent) != 6 {
		t.Fatalf("got %d messages, want 6:\n%+v", len(sent), sent)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"contact button", sent[0].ContactButton == "📱 Share my number" && sent[0].ResizeKeyboard && sent[0].OneTimeKeyboard},
		{"remove keyboard", sent[1].RemoveKeyboard},
		{"reply keyboard on the first line", sent[2].Plain == "Your phone?" && sent[2].ContactButton == "Share" && sent[2].Buttons == nil},
		{"buttons on the last line", sent[3].Plain == "Or skip:" && len(sent[3].Buttons) == 1},
		{"buttons win on one line", sent[4].Plain == "One line only" && len(sent[4].Buttons) == 1},
		{"bad buttons dropped", len(sent[5].Buttons) == 1 && len(sent[5].Buttons[0]) == 1 && sent[5].Buttons[0][0].Data == "ok"},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: messages %+v", c.name, sent)
		}
	}
}

func TestInvalidHTMLIsSentAsPlainText(t *testing.T) {
	h := newHarness(t, Options{})
	h.bot.Deliver(t.Context(), h.outbox.add(alice.ID, migrantbot.Message{Text: "<p>Hello</p> & <b>bye"}))
	h.noRejected(t)
	sent := h.tg.Messages(alice.ID)
	if len(sent) != 1 || sent[0].Plain != "Hello & bye" {
		t.Errorf("messages = %+v", sent)
	}
	if !strings.Contains(h.logs.String(), "not valid Telegram HTML") {
		t.Error("the bad text was not logged")
	}
}

func TestTelegramParseErrorFallsBackToPlainText(t *testing.T) {
	h := newHarness(t, Options{})
	// Markup that passes the bot's own checks but not Telegram's attribute
	// syntax.
	out := h.outbox.add(alice.ID, migrantbot.Message{Text: "See <a href=x y>the law</a>", Buttons: [][]migrantbot.Button{{{Text: "OK", Data: "ok"}}}})
	h.bot.Deliver(t.Context(), out)
	sent := h.tg.Messages(alice.ID)
	if len(sent) != 1 || sent[0].Plain != "See the law" || len(sent[0].Buttons) != 1 || !h.outbox.sent(out[0].ID) {
		t.Errorf("messages = %+v", sent)
	}
	if rej := h.tg.Rejected(); len(rej) != 1 || !strings.Contains(rej[0].Description, "can't parse entities") {
		t.Errorf("rejected = %+v, want the one first try", rej)
	}
}

func TestEmptyMessageIsDropped(t *testing.T) {
	h := newHarness(t, Options{})
	out := h.outbox.add(alice.ID, migrantbot.Message{Text: " <b></b> \n"})
	h.bot.Deliver(t.Context(), out)
	h.noRejected(t)
	if len(h.tg.Messages(alice.ID)) != 0 || !h.outbox.sent(out[0].ID) {
		t.Errorf("an empty message was sent or kept for retrying")
	}
}

func TestEditInPlace(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.runOutbox(t) // the fourth message to the chat waits for its pace
	ctx := t.Context()
	buttons := [][]migrantbot.Button{{{Text: "Next", Data: "next"}}}
	h.bot.Deliver(ctx, h.outbox.add(alice.ID, migrantbot.Message{Text: "Page 1", Buttons: buttons}))

	edit := migrantbot.Message{Text: "Page <b>2</b>", Buttons: buttons, EditMessageID: 1}
	h.bot.Deliver(ctx, h.outbox.add(alice.ID, edit))
	again := h.outbox.add(alice.ID, edit) // the same button pressed twice
	h.bot.Deliver(ctx, again)
	sent := h.tg.Messages(alice.ID)
	if len(sent) != 1 || sent[0].Plain != "Page 2" || sent[0].Edits != 1 || len(sent[0].Buttons) != 1 {
		t.Fatalf("after edits: %+v", sent)
	}
	if !h.outbox.sent(again[0].ID) {
		t.Error("an edit that changed nothing was not taken as delivered")
	}
	h.noRejected(t)

	// A message that cannot be edited (here: it does not exist) is sent anew.
	gone := h.outbox.add(alice.ID, migrantbot.Message{Text: "Page 3", EditMessageID: 99})
	h.bot.Deliver(ctx, gone)
	h.outbox.waitSent(t, gone, 5*time.Second)
	sent = h.tg.Messages(alice.ID)
	if len(sent) != 2 || sent[1].Plain != "Page 3" || !h.outbox.sent(gone[0].ID) {
		t.Errorf("fallback: %+v", sent)
	}
}

func TestRateLimitHandsBackToOutbox(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Options{})
	h.tg.FailNext("sendMessage", 1, 429, 1)
	out := h.outbox.add(alice.ID, migrantbot.Message{Text: "first"}, migrantbot.Message{Text: "second"})
	h.bot.Deliver(t.Context(), out)
	other := h.outbox.add(bob.ID, migrantbot.Message{Text: "other chat"})
	h.bot.Deliver(t.Context(), other)

	retries := h.outbox.retryCalls()
	if len(retries) != 2 || retries[0].id != out[0].ID || retries[0].wait != time.Second || retries[0].reason != "rate limited by Telegram" ||
		retries[1].id != out[1].ID || retries[1].wait != time.Second || retries[1].reason != "" {
		t.Fatalf("retries = %+v, want both after retry_after (1s)", retries)
	}
	if got := h.tg.Messages(alice.ID); len(got) != 0 {
		t.Errorf("alice got %d messages before the retry, want 0", len(got))
	}
	if !h.outbox.sent(other[0].ID) {
		t.Error("the other chat's message waited for alice's")
	}

	h.runOutbox(t)
	sent := h.tg.WaitMessages(t, alice.ID, 2, 5*time.Second)
	if sent[0].Plain != "first" || sent[1].Plain != "second" {
		t.Errorf("order after the retry: %q, %q", sent[0].Plain, sent[1].Plain)
	}
	h.outbox.waitSent(t, out, 5*time.Second)
	calls := callsTo(h.tg, "sendMessage", alice.ID)
	if len(calls) != 3 || calls[0].Code != 429 || !calls[1].OK() || !calls[2].OK() {
		t.Fatalf("calls = %+v, want a 429 and two messages", calls)
	}
	if waited := calls[1].At.Sub(calls[0].At); waited < 900*time.Millisecond {
		t.Errorf("retried %v after the 429, want retry_after (1s)", waited)
	}
	h.noRejected(t)
}

func TestDeliveryFailures(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		wantWait    time.Duration
		wantReason  string
		wantBlocked bool
	}{
		{name: "blocked", code: 403, wantBlocked: true, wantReason: "Forbidden: bot was blocked by the user"},
		{name: "server error", code: 502, wantWait: 50 * time.Millisecond, wantReason: "telegram error 502"},
		{name: "network", code: 0, wantWait: 50 * time.Millisecond, wantReason: "network error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.tg.FailNext("sendMessage", 1, tc.code, 0)
			out := h.outbox.add(alice.ID, migrantbot.Message{Text: "hello"})
			h.bot.Deliver(t.Context(), out)
			retries, blocked := h.outbox.retryCalls(), h.outbox.blockedCalls()
			if tc.wantBlocked {
				if len(retries) != 0 || len(blocked) != 1 || blocked[0].id != out[0].ID || blocked[0].reason != tc.wantReason {
					t.Errorf("retries = %+v, blocked = %+v, want only one Blocked for %q", retries, blocked, tc.wantReason)
				}
			} else if len(blocked) != 0 || len(retries) != 1 || retries[0].wait != tc.wantWait || !strings.Contains(retries[0].reason, tc.wantReason) {
				t.Errorf("retries = %+v, blocked = %+v, want one retry after %v for %q", retries, blocked, tc.wantWait, tc.wantReason)
			}
			if strings.Contains(h.logs.String(), testToken) {
				t.Error("the logs contain the bot token")
			}
		})
	}
}

func TestRunOutboxDeliversDueMessages(t *testing.T) {
	h := newHarness(t, Options{})
	// Messages that an earlier run left in the outbox: three for each of 20
	// chats, so that only the global limit slows them down.
	var out []migrantbot.Outgoing
	for i := range 60 {
		out = append(out, h.outbox.add(int64(600+i%20), migrantbot.Message{Text: fmt.Sprintf("n%02d", i)})...)
	}
	for _, o := range out {
		_ = h.outbox.Retry(t.Context(), o.ID, 0, "left over")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go h.bot.RunOutbox(ctx)
	for chat := int64(600); chat < 620; chat++ {
		sent := h.tg.WaitMessages(t, chat, 3, 5*time.Second)
		if !slices.IsSortedFunc(sent, func(a, b telegramtest.Sent) int { return strings.Compare(a.Plain, b.Plain) }) {
			t.Errorf("chat %d got its messages out of order", chat)
		}
	}
	// 60 messages at 30 a second, after a burst of 30: about a second.
	calls := h.tg.Calls("sendMessage")
	if d := calls[len(calls)-1].At.Sub(calls[0].At); d < 800*time.Millisecond {
		t.Errorf("60 messages went out in %v, faster than Telegram's 30 a second", d)
	}
	h.noRejected(t)
}

func TestCallbackQueriesAlwaysAnswered(t *testing.T) {
	tests := []struct {
		name       string
		reply      func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error)
		wantNotice string
	}{
		{name: "handled with a notice", reply: func(context.Context, migrantbot.Update, migrantbot.Input) (migrantbot.Handled, error) {
			return migrantbot.Handled{Notice: "Saved " + strings.Repeat("✓", 300)}, nil
		}, wantNotice: "Saved " + strings.Repeat("✓", 193) + "…"},
		{name: "duplicate", reply: func(context.Context, migrantbot.Update, migrantbot.Input) (migrantbot.Handled, error) {
			return migrantbot.Handled{}, migrantbot.ErrDuplicate
		}},
		{name: "refused", reply: func(context.Context, migrantbot.Update, migrantbot.Input) (migrantbot.Handled, error) {
			return migrantbot.Handled{}, fmt.Errorf("flows: %w", migrantbot.Errorf(migrantbot.EINVALID, "bad data"))
		}},
		{name: "panic", reply: func(context.Context, migrantbot.Update, migrantbot.Input) (migrantbot.Handled, error) {
			panic("secret words")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.rec.setReply(tc.reply)
			h.poll(t)
			id := h.tg.PressData(alice, 5, "lang:ru")
			h.tg.WaitCalls(t, "answerCallbackQuery", 1, 5*time.Second)
			h.tg.WaitOffset(t, id+1, 5*time.Second)
			notice, answered := h.tg.CallbackAnswer(id)
			if !answered || notice != tc.wantNotice {
				t.Errorf("answer = %q (answered %v), want %q", notice, answered, tc.wantNotice)
			}
			if got := h.tg.Calls("answerCallbackQuery"); len(got) != 1 {
				t.Errorf("%d answers, want exactly 1", len(got))
			}
			h.noRejected(t)
		})
	}
}

func TestCallbackAnsweredAfterTransientFailure(t *testing.T) {
	h := newHarness(t, Options{})
	failures := 3
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		if failures > 0 {
			failures--
			return migrantbot.Handled{}, errors.New("store: connection refused")
		}
		return migrantbot.Handled{Notice: "ok"}, nil
	})
	h.poll(t)
	id := h.tg.PressData(alice, 5, "x")
	h.tg.WaitOffset(t, id+1, 5*time.Second)
	if n := len(h.rec.handledCalls()); n != 4 {
		t.Errorf("handled %d times, want 4", n)
	}
	if text, ok := h.tg.CallbackAnswer(id); !ok || text != "ok" || len(h.tg.Calls("answerCallbackQuery")) != 1 {
		t.Errorf("answer %q %v after %d calls", text, ok, len(h.tg.Calls("answerCallbackQuery")))
	}
	// A duplicate delivery is answered too.
	h.tg.Redeliver(id)
	h.tg.WaitCalls(t, "answerCallbackQuery", 2, 5*time.Second)
	if len(h.tg.UnansweredCallbacks()) != 0 {
		t.Errorf("unanswered: %v", h.tg.UnansweredCallbacks())
	}
}

func TestLogsHoldNoPersonalData(t *testing.T) {
	h := newHarness(t, Options{})
	secret := telegramtest.User{ID: 777, FirstName: "Zulfiyya", LanguageCode: "az"}
	h.rec.setReply(func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		if in.Text == "panic please" {
			panic(fmt.Sprintf("cannot handle %q", in.Text))
		}
		return migrantbot.Handled{Outgoing: h.outbox.add(u.ChatID, migrantbot.Message{Text: "Got " + html.EscapeString(in.Text+in.Phone)})}, nil
	})
	h.tg.FailNext("sendMessage", 1, 400, 0)
	h.poll(t)
	h.tg.SendText(secret, "my passport number AB1234567")
	h.tg.SendContact(secret, "+994501112233", true)
	h.tg.SendText(secret, "panic please")
	last := h.tg.SendText(secret, "/start")
	h.tg.WaitOffset(t, last+1, 5*time.Second)
	logs := h.logs.String()
	for _, personal := range []string{"Zulfiyya", "AB1234567", "994501112233", "panic please", testToken} {
		if strings.Contains(logs, personal) {
			t.Errorf("the logs contain %q:\n%s", personal, logs)
		}
	}
	for _, want := range []string{"chat=777", "outcome=handled", "outcome=panic", "kind=contact"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs lack %q", want)
		}
	}
}
