package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
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

// Deliver sends messages to Telegram and records the outcome in the outbox:
// MarkSent after a successful send, Retry after a failure (after
// retry_after on 429, a day when the person blocked the bot, a growing
// backoff otherwise). Messages of one chat are sent in the given order, one
// at a time; when one fails, the chat's later messages in out are
// rescheduled with it, so they cannot overtake it. Different chats are
// delivered in parallel.
func (b *Bot) Deliver(ctx context.Context, out []migrantbot.Outgoing) {
	var order []int64
	byChat := map[int64][]migrantbot.Outgoing{}
	for _, o := range out {
		if _, ok := byChat[o.ChatID]; !ok {
			order = append(order, o.ChatID)
		}
		byChat[o.ChatID] = append(byChat[o.ChatID], o)
	}
	if len(order) == 1 {
		b.deliverChat(ctx, byChat[order[0]])
		return
	}
	sem := make(chan struct{}, b.opt.Workers)
	var wg sync.WaitGroup
	for _, chat := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b.deliverChat(ctx, byChat[chat])
		})
	}
	wg.Wait()
}

// deliverChat sends the messages of one chat in order.
func (b *Bot) deliverChat(ctx context.Context, msgs []migrantbot.Outgoing) {
	unlock := b.chats.lock(msgs[0].ChatID)
	defer unlock()
	msgs = b.claim(msgs)
	defer b.release(msgs)
	i := 0
	defer func() {
		// A bug in rendering must not take the process down; the chat's
		// messages wait, and the log says why.
		if r := recover(); r != nil {
			b.logger.Error("bot: panic while delivering", "chat", msgs[i].ChatID, "outbox", msgs[i].ID,
				"panic", panicSummary(r), "stack", string(debug.Stack()))
			for _, o := range msgs[i:] {
				b.settle(ctx, o.ID, b.sendBackoff[len(b.sendBackoff)-1], "panic while delivering")
			}
		}
	}()
	for ; i < len(msgs); i++ {
		o := msgs[i]
		start := time.Now()
		err := b.deliverOne(ctx, o)
		switch {
		case err == nil, errors.Is(err, errEmptyMessage):
			if err != nil {
				b.logger.Error("bot: message has no text to show; dropped", "chat", o.ChatID, "outbox", o.ID)
			}
			b.logger.Debug("bot: message delivered", "chat", o.ChatID, "outbox", o.ID, "duration", time.Since(start))
			b.settle(ctx, o.ID, 0, "")
		default:
			wait, reason := b.retryAfter(ctx, o, err)
			b.settle(ctx, o.ID, wait, reason)
			for _, later := range msgs[i+1:] {
				b.settle(ctx, later.ID, wait, "waiting for an earlier message of the chat")
			}
			return
		}
	}
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

// settle records a delivery's outcome in the outbox: sent when wait is 0 and
// reason is "", else to be retried after wait. It runs even when ctx is
// done, so that a message interrupted by shutdown is released at once
// instead of when its claim expires.
func (b *Bot) settle(ctx context.Context, id int64, wait time.Duration, reason string) {
	if id == 0 || b.outbox == nil {
		return // not from the outbox
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if reason == "" {
		b.mu.Lock()
		delete(b.attempts, id)
		b.mu.Unlock()
		if err := b.outbox.MarkSent(ctx, id); err != nil {
			// The message went out; at worst it is sent once more later.
			b.logger.Warn("bot: mark outbox message sent", "outbox", id, "error", err.Error())
		}
		return
	}
	if err := b.outbox.Retry(ctx, id, wait, reason); err != nil {
		b.logger.Warn("bot: reschedule outbox message", "outbox", id, "error", err.Error())
	}
}

// retryAfter decides when a failed delivery is tried again, and logs why.
func (b *Bot) retryAfter(ctx context.Context, o migrantbot.Outgoing, err error) (time.Duration, string) {
	if ctx.Err() != nil {
		return 0, "interrupted by shutdown"
	}
	b.mu.Lock()
	b.attempts[o.ID]++
	attempt := b.attempts[o.ID]
	b.mu.Unlock()
	backoff := b.sendBackoff[min(attempt, len(b.sendBackoff))-1]

	var te *tgbotapi.Error
	switch {
	case errors.As(err, &te) && te.Code == http.StatusTooManyRequests:
		wait := time.Duration(max(te.RetryAfter, 1)) * time.Second
		b.logger.Warn("bot: Telegram rate limit", "chat", o.ChatID, "outbox", o.ID, "retry_in", wait)
		return wait, "rate limited by Telegram"
	case errors.As(err, &te) && te.Code == http.StatusForbidden:
		b.logger.Warn("bot: the person blocked the bot or left the chat", "chat", o.ChatID, "outbox", o.ID, "retry_in", b.blockedWait)
		return b.blockedWait, "forbidden: the bot was blocked or removed"
	case errors.As(err, &te):
		b.logger.Error("bot: Telegram refused a message", "chat", o.ChatID, "outbox", o.ID,
			"code", te.Code, "description", te.Message, "attempt", attempt, "retry_in", backoff)
		return backoff, fmt.Sprintf("telegram error %d", te.Code)
	default:
		b.logger.Warn("bot: send message", "chat", o.ChatID, "outbox", o.ID,
			"error", b.scrub(err).Error(), "attempt", attempt, "retry_in", backoff)
		return backoff, "network error"
	}
}

// deliverOne sends one message, split into parts if it is too long, editing
// the earlier message in place when asked to.
func (b *Bot) deliverOne(ctx context.Context, o migrantbot.Outgoing) error {
	parts := b.render(o)
	if len(parts) == 0 {
		return errEmptyMessage
	}
	api := b.with(ctx)
	for i, p := range parts {
		// An edit cannot carry a reply keyboard; such a part is sent anew.
		if i == 0 && o.Message.EditMessageID != 0 && p.reply == nil {
			edited, err := b.edit(ctx, api, o.ChatID, o.Message.EditMessageID, p)
			if err != nil {
				return err
			}
			if edited {
				continue
			}
		}
		if err := b.limiter.wait(ctx); err != nil {
			return err
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
		_, err := api.Send(msg)
		if isParseError(err) {
			// The text passed our checks but not Telegram's: send the
			// words without the markup rather than retry in vain.
			b.logger.Error("bot: Telegram could not parse a message, sending it as plain text",
				"chat", o.ChatID, "outbox", o.ID, "description", err.Error())
			msg.Text = plainFallback(p.text)
			_, err = api.Send(msg)
		}
		if err != nil {
			return b.scrub(err)
		}
	}
	return nil
}

// isParseError reports whether Telegram refused a text's HTML.
func isParseError(err error) bool {
	var te *tgbotapi.Error
	return errors.As(err, &te) && te.Code == http.StatusBadRequest && strings.Contains(te.Message, "can't parse entities")
}

// edit replaces the text and buttons of an earlier message. It reports false
// when the message cannot be edited (too old, deleted, not the bot's), and
// the caller sends a new one instead.
func (b *Bot) edit(ctx context.Context, api *tgbotapi.BotAPI, chatID int64, messageID int, p part) (bool, error) {
	if err := b.limiter.wait(ctx); err != nil {
		return false, err
	}
	edit := tgbotapi.NewEditMessageText(chatID, messageID, p.text)
	edit.ParseMode = tgbotapi.ModeHTML
	edit.DisableWebPagePreview = true
	edit.ReplyMarkup = p.inline
	_, err := api.Send(edit)
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
		return false, b.scrub(err)
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
// claims the messages that are due and delivers them, chat by chat in id
// order, within Telegram's limit of about 30 messages a second. It returns
// nil when ctx is done.
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
