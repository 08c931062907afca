package bot

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

// MaxCallbackData is how many bytes of callback data Telegram keeps on a
// button.
const MaxCallbackData = 64

// outboxBatch is how many due messages RunOutbox claims at a time.
const outboxBatch = 50

// part is one Telegram message of a rendered migrantbot.Message.
type part struct {
	text   string
	inline *tgbotapi.InlineKeyboardMarkup
	reply  any // a ReplyKeyboardMarkup or a ReplyKeyboardRemove
}

// errEmptyMessage marks a message with nothing to show: Telegram refuses it,
// so retrying is pointless.
var errEmptyMessage = errors.New("bot: message text is empty")

// Deliver sends messages to Telegram and records each outcome in the
// outbox: MarkSent once Telegram accepted a message, Blocked when the person
// blocked the bot or their account is gone (403: retrying cannot help), and
// Retry otherwise.
//
// Messages of one chat go out in the given order, one at a time, at the
// chat's pace (a burst of three, then about one a second; 20 a minute in a
// group) and within Telegram's 30 a second overall; different chats are
// delivered in parallel. A message that would have to wait its chat's turn
// for more than a moment, that got a 429 (which also pauses the chat for
// its retry_after), or that failed (after a growing backoff) goes back to
// the outbox with the chat's later messages, due again in order and at the
// chat's pace; RunOutbox sends them then. While they are there, the chat's
// newer messages queue behind them instead of overtaking. So neither the
// polling loop nor the outbox worker waits for a busy chat, and a message
// is never sent late enough for its outbox claim to have passed to another
// instance.
func (b *Bot) Deliver(ctx context.Context, out []migrantbot.Outgoing) {
	start := time.Now()
	b.sweep(start)
	order, chats := byChat(out, func(o migrantbot.Outgoing) int64 { return o.ChatID })
	eachChat(order, b.opt.Workers, func(chat int64) { b.deliverChat(ctx, chats[chat], start) })
}

// deliverChat sends the messages of one chat in order.
func (b *Bot) deliverChat(ctx context.Context, msgs []migrantbot.Outgoing, start time.Time) {
	chat := b.chats.lock(msgs[0].ChatID)
	defer b.chats.unlock(chat)
	msgs = b.claim(msgs)
	defer b.release(msgs)
	waitUntil := time.Now().Add(b.inPlace)
	startBy := start.Add(b.startWithin)
	i := 0
	defer func() {
		// A bug in rendering must not take the process down; the chat's
		// messages wait, and the log says why.
		if r := recover(); r != nil {
			b.logger.Error("bot: panic while delivering", "chat", msgs[i].ChatID, "outbox", msgs[i].ID,
				"panic", panicSummary(r), "stack", string(debug.Stack()))
			b.requeue(ctx, chat, msgs[i:], b.sendBackoff[len(b.sendBackoff)-1], 0, "panic while delivering")
		}
	}()
	for ; i < len(msgs); i++ {
		o := msgs[i]
		if ctx.Err() != nil {
			b.releaseForShutdown(ctx, msgs[i:])
			return
		}
		if b.resettle(ctx, chat, o.ID) {
			continue
		}
		if o.ID != 0 {
			now := time.Now()
			switch {
			case chat.behind(o.ID, now):
				b.requeue(ctx, chat, msgs[i:], 0, 0, "")
				return
			case now.After(startBy):
				b.logger.Warn("bot: delivery ran late, handing messages back to the outbox", "chat", o.ChatID, "outbox", o.ID, "count", len(msgs)-i)
				b.requeue(ctx, chat, msgs[i:], 0, 0, "")
				return
			case chat.delay(now) > 0 && now.Add(chat.delay(now)).After(waitUntil):
				d := chat.delay(now)
				b.logger.Debug("bot: chat paced, handing messages back to the outbox", "chat", o.ChatID, "outbox", o.ID, "count", len(msgs)-i, "retry_in", d)
				b.requeue(ctx, chat, msgs[i:], d, chat.step(), "")
				return
			}
		}
		sendStart := time.Now()
		err := b.deliverOne(ctx, chat, o)
		var te *tgbotapi.Error
		switch {
		case err == nil, errors.Is(err, errEmptyMessage):
			if err != nil {
				b.logger.Error("bot: message has no text to show; dropped", "chat", o.ChatID, "outbox", o.ID)
			}
			b.logger.Debug("bot: message delivered", "chat", o.ChatID, "outbox", o.ID, "duration", time.Since(sendStart))
			b.markSent(ctx, chat, o.ID)
		case ctx.Err() != nil:
			b.releaseForShutdown(ctx, msgs[i:])
			return
		case errors.As(err, &te) && te.Code == http.StatusForbidden:
			// Blocked, deactivated or removed from the group: every message
			// to the chat would be refused the same way.
			b.logger.Warn("bot: the person blocked the bot or cannot be reached; not retrying",
				"chat", o.ChatID, "outbox", o.ID, "count", len(msgs)-i, "description", te.Message)
			for _, rest := range msgs[i:] {
				b.markBlocked(ctx, chat, rest.ID, te.Message)
			}
			return
		case errors.As(err, &te) && te.Code == http.StatusTooManyRequests:
			wait := retryAfter(te)
			b.logger.Warn("bot: Telegram rate limit", "chat", o.ChatID, "outbox", o.ID, "retry_in", wait)
			b.requeue(ctx, chat, msgs[i:], wait, 0, "rate limited by Telegram")
			return
		default:
			attempt := b.failed(o.ID)
			wait := b.sendBackoff[min(attempt, len(b.sendBackoff))-1]
			reason := "network error"
			if errors.As(err, &te) {
				reason = fmt.Sprintf("telegram error %d", te.Code)
				b.logger.Error("bot: Telegram refused a message", "chat", o.ChatID, "outbox", o.ID,
					"code", te.Code, "description", te.Message, "attempt", attempt, "retry_in", wait)
			} else {
				b.logger.Warn("bot: send message", "chat", o.ChatID, "outbox", o.ID,
					"error", b.scrub(err).Error(), "attempt", attempt, "retry_in", wait)
			}
			b.requeue(ctx, chat, msgs[i:], wait, 0, reason)
			return
		}
	}
}

// retryAfter is the wait a 429 asks for, at least a second.
func retryAfter(te *tgbotapi.Error) time.Duration {
	return time.Duration(max(te.RetryAfter, 1)) * time.Second
}

// claim drops the messages this process is already delivering (the outbox
// may hand out a message that an update's handling is sending right now)
// and marks the rest as in flight.
func (b *Bot) claim(msgs []migrantbot.Outgoing) []migrantbot.Outgoing {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []migrantbot.Outgoing
	for _, o := range msgs {
		if o.ID != 0 && b.inflight[o.ID] {
			continue
		}
		if o.ID != 0 {
			b.inflight[o.ID] = true
		}
		out = append(out, o)
	}
	return out
}

func (b *Bot) release(msgs []migrantbot.Outgoing) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, o := range msgs {
		delete(b.inflight, o.ID)
	}
}

// record returns the tracking of message id, creating it; b.mu must be held.
func (b *Bot) record(id int64) *tracking {
	t := b.track[id]
	if t == nil {
		t = &tracking{}
		b.track[id] = t
	}
	t.at = time.Now()
	return t
}

// failed counts a failed delivery of message id and returns the count.
func (b *Bot) failed(id int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.record(id)
	t.attempts++
	return t.attempts
}

// sentParts returns how many parts of message id Telegram already accepted.
func (b *Bot) sentParts(id int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.track[id]; t != nil {
		return t.parts
	}
	return 0
}

func (b *Bot) setSentParts(id int64, n int) {
	if id == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(id).parts = n
}

// bookkeeping returns the context for telling the outbox an outcome. It
// outlives ctx, so that a message interrupted by shutdown is released at
// once instead of when its claim expires.
func bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
}

// markSent records that message id reached Telegram. The outcome is kept
// for a while, so that the message is not sent again if the outbox hands it
// out once more.
func (b *Bot) markSent(ctx context.Context, chat *chatState, id int64) {
	b.settle(ctx, chat, id, outcomeSent, "")
}

// markBlocked records that message id cannot reach the person.
func (b *Bot) markBlocked(ctx context.Context, chat *chatState, id int64, reason string) {
	b.settle(ctx, chat, id, outcomeBlocked, reason)
}

// settle tells the outbox the final outcome of message id and remembers it.
func (b *Bot) settle(ctx context.Context, chat *chatState, id int64, outcome, reason string) {
	if id == 0 || b.outbox == nil {
		return // not from the outbox
	}
	chat.done(id)
	b.mu.Lock()
	t := b.record(id)
	t.outcome, t.reason = outcome, reason
	b.mu.Unlock()
	ctx, cancel := bookkeeping(ctx)
	defer cancel()
	var err error
	if outcome == outcomeSent {
		err = b.outbox.MarkSent(ctx, id)
	} else {
		err = b.outbox.Blocked(ctx, id, reason)
	}
	if err != nil {
		// The message is not sent again by this process: the next time the
		// outbox hands it out, the outcome is reported once more.
		b.logger.Warn("bot: record delivery outcome in the outbox", "outbox", id, "outcome", outcome, "error", err.Error())
		return
	}
	b.mu.Lock()
	b.record(id).reported = true
	b.mu.Unlock()
}

// resettle handles a message that already reached its end in this process:
// it reports the outcome if the outbox missed it and returns true. It
// returns false when message id has yet to be delivered.
func (b *Bot) resettle(ctx context.Context, chat *chatState, id int64) bool {
	if id == 0 {
		return false
	}
	b.mu.Lock()
	var outcome, reason string
	reported := false
	if t := b.track[id]; t != nil {
		outcome, reason, reported = t.outcome, t.reason, t.reported
	}
	b.mu.Unlock()
	switch {
	case outcome == "":
		return false
	case reported:
		chat.done(id)
		b.logger.Debug("bot: outbox message already delivered; not sent again", "chat", chat.id, "outbox", id)
	default:
		b.settle(ctx, chat, id, outcome, reason)
	}
	return true
}

// requeue hands messages of one chat back to the outbox, in order: the
// first due again after wait (with reason as its delivery error, "" when it
// did not fail but only waits its turn), each later one step after the one
// before (see chatState.requeue).
func (b *Bot) requeue(ctx context.Context, chat *chatState, msgs []migrantbot.Outgoing, wait, step time.Duration, reason string) {
	if b.outbox == nil {
		return
	}
	ctx, cancel := bookkeeping(ctx)
	defer cancel()
	now := time.Now()
	for j, o := range msgs {
		if o.ID == 0 {
			continue // not from the outbox: nothing to hand back
		}
		why := ""
		if j == 0 {
			why = reason
		}
		if err := b.outbox.Retry(ctx, o.ID, chat.requeue(o.ID, now, wait, step), why); err != nil {
			// The outbox hands the message out again when its claim ends.
			b.logger.Warn("bot: reschedule outbox message", "outbox", o.ID, "error", err.Error())
		}
	}
}

// releaseForShutdown gives messages back to the outbox at once, so that the
// next instance to run sends them without waiting for their claim to end.
func (b *Bot) releaseForShutdown(ctx context.Context, msgs []migrantbot.Outgoing) {
	if b.outbox == nil {
		return
	}
	ctx, cancel := bookkeeping(ctx)
	defer cancel()
	for _, o := range msgs {
		if o.ID == 0 {
			continue
		}
		if err := b.outbox.Retry(ctx, o.ID, 0, "interrupted by shutdown"); err != nil {
			b.logger.Warn("bot: release outbox message", "outbox", o.ID, "error", err.Error())
		}
	}
}

// sweep forgets, about once a minute, the delivery history of messages not
// seen for a while (sent or blocked by another instance, say).
func (b *Bot) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastSweep) < time.Minute {
		return
	}
	b.lastSweep = now
	for id, t := range b.track {
		if now.Sub(t.at) > 15*time.Minute && !b.inflight[id] {
			delete(b.track, id)
		}
	}
}

// deliverOne sends one message, split into parts if it is too long, editing
// the earlier message in place when asked to. Parts that Telegram accepted
// in an earlier attempt are not sent again.
func (b *Bot) deliverOne(ctx context.Context, chat *chatState, o migrantbot.Outgoing) error {
	if o.Message.Document != nil {
		return b.sendDocument(ctx, chat, o)
	}
	parts := b.render(o)
	if len(parts) == 0 {
		return errEmptyMessage
	}
	for i := b.sentParts(o.ID); i < len(parts); i++ {
		p := parts[i]
		// An edit cannot carry a reply keyboard; such a part is sent anew.
		if i == 0 && o.Message.EditMessageID != 0 && p.reply == nil {
			edited, err := b.edit(ctx, chat, o.ChatID, o.Message.EditMessageID, p)
			if err != nil {
				return err
			}
			if edited {
				b.setSentParts(o.ID, i+1)
				continue
			}
		}
		msg := tgbotapi.NewMessage(o.ChatID, p.text)
		msg.ParseMode = tgbotapi.ModeHTML
		msg.DisableWebPagePreview = true
		switch {
		case p.inline != nil:
			msg.ReplyMarkup = *p.inline
		case p.reply != nil:
			msg.ReplyMarkup = p.reply
		}
		err := b.send(ctx, chat, msg)
		if isParseError(err) {
			// The text passed our checks but not Telegram's: send the
			// words without the markup rather than retry in vain.
			b.logger.Error("bot: Telegram could not parse a message, sending it as plain text",
				"chat", o.ChatID, "outbox", o.ID, "description", err.Error())
			msg.Text = plainFallback(p.text)
			err = b.send(ctx, chat, msg)
		}
		if err != nil {
			return err
		}
		b.setSentParts(o.ID, i+1)
	}
	return nil
}

// send makes one Bot API call that writes to a chat: at the chat's pace,
// within the global limit, bounded by sendTimeout. A 429 pauses the chat for
// its retry_after. Errors never contain the token.
func (b *Bot) send(ctx context.Context, chat *chatState, c tgbotapi.Chattable) error {
	if d := chat.delay(time.Now()); d > 0 && !sleep(ctx, d) {
		return ctx.Err()
	}
	chat.take(time.Now())
	if err := b.limiter.wait(ctx); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, b.sendTimeout)
	_, err := b.with(cctx).Send(c)
	cancel()
	b.observeSend(ctx, err)
	var te *tgbotapi.Error
	if errors.As(err, &te) && te.Code == http.StatusTooManyRequests {
		now := time.Now()
		chat.pause(now, now.Add(retryAfter(te)))
	}
	return b.scrub(err)
}

// isParseError reports whether Telegram refused a text's HTML.
func isParseError(err error) bool {
	var te *tgbotapi.Error
	return errors.As(err, &te) && te.Code == http.StatusBadRequest && strings.Contains(te.Message, "can't parse entities")
}

// edit replaces the text and buttons of an earlier message. It reports false
// when the message cannot be edited (too old, deleted, not the bot's), and
// the caller sends a new one instead.
func (b *Bot) edit(ctx context.Context, chat *chatState, chatID int64, messageID int, p part) (bool, error) {
	edit := tgbotapi.NewEditMessageText(chatID, messageID, p.text)
	edit.ParseMode = tgbotapi.ModeHTML
	edit.DisableWebPagePreview = true
	edit.ReplyMarkup = p.inline
	err := b.send(ctx, chat, edit)
	var te *tgbotapi.Error
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &te) && te.Code == http.StatusBadRequest && strings.Contains(te.Message, "message is not modified"):
		// The person pressed the same button twice: what they see is right.
		return true, nil
	case errors.As(err, &te) && te.Code == http.StatusBadRequest:
		// Too old, deleted, not the bot's, or text Telegram could not
		// parse: a new message (with its own fallback) does the job.
		b.logger.Info("bot: cannot edit message, sending a new one", "chat", chatID, "description", te.Message)
		return false, nil
	default:
		return false, err
	}
}

// render turns a message into the Telegram messages that show it: the text
// split to Telegram's limit, the reply keyboard on the first part and the
// inline buttons on the last.
func (b *Bot) render(o migrantbot.Outgoing) []part {
	m := o.Message
	texts, err := splitHTML(m.Text, MaxTextLength)
	if err != nil {
		// A bug upstream; the person should still get the words.
		b.logger.Error("bot: message text is not valid Telegram HTML, sending it as plain text",
			"chat", o.ChatID, "outbox", o.ID, "error", err.Error())
		texts, _ = splitHTML(plainFallback(m.Text), MaxTextLength)
	}
	if len(texts) == 0 {
		return nil
	}
	inline := b.inlineKeyboard(o)
	var reply any
	switch {
	case m.ContactButton != "":
		reply = tgbotapi.ReplyKeyboardMarkup{
			Keyboard:        [][]tgbotapi.KeyboardButton{{tgbotapi.NewKeyboardButtonContact(m.ContactButton)}},
			ResizeKeyboard:  true,
			OneTimeKeyboard: true,
		}
	case m.RemoveKeyboard:
		reply = tgbotapi.NewRemoveKeyboard(true)
	}
	// A message can carry an inline keyboard or a reply keyboard, not both.
	if inline != nil && reply != nil && len(texts) == 1 {
		if first, second, ok := splitLastLine(texts[0]); ok {
			texts = []string{first, second}
		} else {
			b.logger.Warn("bot: message asks for inline buttons and a reply keyboard but has one line; the reply keyboard is left out",
				"chat", o.ChatID, "outbox", o.ID)
			reply = nil
		}
	}
	parts := make([]part, len(texts))
	for i, t := range texts {
		parts[i].text = t
	}
	parts[0].reply = reply
	parts[len(parts)-1].inline = inline
	return parts
}

// inlineKeyboard builds the inline keyboard of a message. A button Telegram
// would refuse (no text, callback data empty or over 64 bytes) would make it
// refuse the whole message, so it is left out and logged instead.
func (b *Bot) inlineKeyboard(o migrantbot.Outgoing) *tgbotapi.InlineKeyboardMarkup {
	var rows [][]tgbotapi.InlineKeyboardButton
	for _, row := range o.Message.Buttons {
		var r []tgbotapi.InlineKeyboardButton
		for _, btn := range row {
			if btn.Text == "" || btn.Data == "" || len(btn.Data) > MaxCallbackData {
				b.logger.Error("bot: button left out: Telegram needs a text and 1-64 bytes of callback data",
					"chat", o.ChatID, "outbox", o.ID, "data_bytes", len(btn.Data))
				continue
			}
			r = append(r, tgbotapi.NewInlineKeyboardButtonData(btn.Text, btn.Data))
		}
		if len(r) > 0 {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(rows...)
	return &kb
}

// RunOutbox delivers the outbox until ctx is done: about every second it
// claims the messages that are due (Outbox.Due, which hands each message to
// one claimer at a time, across instances) and delivers them with Deliver,
// chat by chat in id order, at each chat's pace and within Telegram's limit
// of about 30 messages a second. It returns nil when ctx is done.
//
// Run it wherever Deliver runs: the messages Deliver hands back to the
// outbox (a chat's pace, a 429, a failure) reach Telegram through it.
func (b *Bot) RunOutbox(ctx context.Context) error {
	tick := time.NewTicker(b.outboxEvery)
	defer tick.Stop()
	for {
		due, err := b.outbox.Due(ctx, outboxBatch)
		switch {
		case ctx.Err() != nil:
			if len(due) > 0 {
				b.Deliver(ctx, due) // releases what was just claimed
			}
			return nil
		case err != nil:
			b.logger.Warn("bot: claim due outbox messages", "error", err.Error())
		case len(due) > 0:
			slices.SortStableFunc(due, func(x, y migrantbot.Outgoing) int {
				switch {
				case x.ID < y.ID:
					return -1
				case x.ID > y.ID:
					return 1
				}
				return 0
			})
			b.Deliver(ctx, due)
			if len(due) == outboxBatch {
				continue // more are waiting
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// maxCaption is Telegram's limit on a caption, in UTF-16 code units.
const maxCaption = 1024

// sendDocument uploads a file the bot made, with the message's text as its
// caption. The dialogs keep captions short; a longer one is cut rather than
// refused, since the file is what matters.
func (b *Bot) sendDocument(ctx context.Context, chat *chatState, o migrantbot.Outgoing) error {
	d := o.Message.Document
	doc := tgbotapi.NewDocument(o.ChatID, tgbotapi.FileBytes{Name: d.FileName, Bytes: d.Data})
	if o.Message.Text != "" {
		caption := o.Message.Text
		if countUnits(caption) > maxCaption {
			// Sent as plain text: the words, unescaped, cut to the limit.
			caption = truncate(html.UnescapeString(plainFallback(caption)), maxCaption)
		} else {
			doc.ParseMode = tgbotapi.ModeHTML
		}
		doc.Caption = caption
	}
	return b.send(ctx, chat, doc)
}
