package bot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Poll receives updates by long polling until ctx is done, then returns nil.
// It refuses, with an error saying how to clear it, to poll while a webhook
// is set: Telegram would refuse getUpdates, and deleting the webhook would
// take the updates away from the instances serving it.
//
// It does its own getUpdates calls rather than the library's
// GetUpdatesChan, which moves the offset before the updates are handled: here
// the offset moves past an update only after HandleUpdate returned nil for
// it, that is after its transaction committed. Each batch is handled chat by
// chat: different chats in parallel (at most Options.Workers), one chat's
// updates in order. An update whose handling fails is tried again, with
// backoff, in place, so its chat's later updates wait behind it.
//
// When ctx is done Poll fetches no more, lets the updates in hand finish
// (for at most a grace period of about ten seconds), confirms to Telegram
// the ones that committed, and returns. An update that did not commit stays
// with Telegram and comes again on the next start.
func (b *Bot) Poll(ctx context.Context) error {
	b.logger.Info("bot: long polling", "workers", b.opt.Workers, "timeout", b.opt.PollTimeout)
	// getUpdates is refused while a webhook is set. The webhook is not
	// deleted here: another instance may be serving it.
	if err := b.refuseWebhook(ctx); err != nil {
		return err
	}
	offset, confirmed := 0, 0
	wait := b.pollWaitMin
	for ctx.Err() == nil {
		updates, err := b.with(ctx).GetUpdates(tgbotapi.UpdateConfig{
			Offset: offset, Limit: 100, Timeout: b.opt.PollTimeout,
		})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			b.observeSend(ctx, err)
			var te *tgbotapi.Error
			if errors.As(err, &te) && te.Code == http.StatusConflict {
				// A webhook set while polling, or another poller.
				if werr := b.refuseWebhook(ctx); werr != nil {
					return werr
				}
			}
			d := jitter(wait)
			b.logger.Warn("bot: get updates, retrying", "retry_in", d, "error", b.scrub(err).Error())
			sleep(ctx, d)
			wait = min(wait*2, b.pollWaitMax)
			continue
		}
		wait = b.pollWaitMin
		confirmed = offset
		if len(updates) > 0 {
			// The offset never moves back, even for an update Telegram
			// delivers again after it was confirmed.
			offset = max(offset, b.handleBatch(ctx, updates))
		}
	}
	if offset > confirmed {
		b.confirm(ctx, offset)
	}
	b.logger.Info("bot: long polling stopped")
	return nil
}

// refuseWebhook returns an error saying how to clear the webhook when one is
// set. When Telegram cannot say, polling goes ahead: getUpdates answers 409
// while a webhook is set, which brings Poll back here.
func (b *Bot) refuseWebhook(ctx context.Context) error {
	url, err := b.WebhookURL(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.logger.Warn("bot: cannot tell whether a webhook is set", "error", err.Error())
		}
		return nil
	}
	if url != "" {
		return fmt.Errorf("bot: poll: a webhook is set at %s; unset WEBHOOK_URL and run `migrantbot webhook delete`, or serve with WEBHOOK_URL", b.scrub(errors.New(url)))
	}
	return nil
}

// confirm tells Telegram that the updates below offset are done, so that a
// restart does not fetch them again (they would be recognised as duplicates,
// but at a cost).
func (b *Bot) confirm(ctx context.Context, offset int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := b.with(ctx).GetUpdates(tgbotapi.UpdateConfig{Offset: offset, Limit: 1})
	if err != nil {
		b.logger.Warn("bot: confirm handled updates", "offset", offset, "error", b.scrub(err).Error())
	}
}

// handleBatch handles a batch of updates and returns the offset to ask for
// next: one past the last update if all committed, else the id of the first
// update that did not.
func (b *Bot) handleBatch(ctx context.Context, updates []tgbotapi.Update) int {
	// The handling context outlives ctx by the grace period, so that a
	// shutdown lets the updates in hand commit instead of cutting their
	// transactions short.
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(b.grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-hctx.Done():
		}
	})
	defer stop()

	last := 0
	for _, u := range updates {
		last = max(last, u.UpdateID)
	}
	// Updates without a chat (0) are only acknowledged.
	order, chats := byChat(updates, chatOf)
	var mu sync.Mutex
	firstFailed := math.MaxInt
	eachChat(order, b.opt.Workers, func(chat int64) {
		for _, u := range chats[chat] {
			if !b.handleWithRetry(ctx, hctx, u) {
				// The chat's later updates must wait for this one.
				mu.Lock()
				firstFailed = min(firstFailed, u.UpdateID)
				mu.Unlock()
				return
			}
		}
	})
	if firstFailed != math.MaxInt {
		return firstFailed
	}
	return last + 1
}

// handleWithRetry handles one update until it succeeds, trying again with
// backoff after failures. It gives up, reporting false, only when ctx (or,
// during shutdown, the grace period) ends.
func (b *Bot) handleWithRetry(ctx, hctx context.Context, u tgbotapi.Update) bool {
	wait := b.retryMin
	for attempt := 1; ; attempt++ {
		err := b.HandleUpdate(hctx, u)
		if err == nil {
			return true
		}
		if ctx.Err() != nil || hctx.Err() != nil {
			b.logger.Warn("bot: update left for redelivery", "update", u.UpdateID, "attempts", attempt)
			return false
		}
		d := jitter(wait)
		b.logger.Warn("bot: handling failed, retrying", "update", u.UpdateID, "attempt", attempt, "retry_in", d, "error", err.Error())
		if !sleep(ctx, d) {
			b.logger.Warn("bot: update left for redelivery", "update", u.UpdateID, "attempts", attempt)
			return false
		}
		wait = min(wait*2, b.retryMax)
	}
}

// chatOf returns the chat an update belongs to, or 0. (The library's
// FromChat panics on a callback query without a message.)
func chatOf(u tgbotapi.Update) int64 {
	m := personMessage(u)
	if m == nil && u.CallbackQuery != nil {
		m = u.CallbackQuery.Message
	}
	if m == nil || m.Chat == nil {
		return 0
	}
	return m.Chat.ID
}
