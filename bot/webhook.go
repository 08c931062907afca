package bot

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// MaxWebhookBody is the largest webhook request body accepted. An update is
// a few kilobytes; Telegram's own limit on a message is far below this.
const MaxWebhookBody = 1 << 20

// secretHeader carries the webhook's secret_token in Telegram's requests.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// SetWebhook registers url as the bot's webhook with secret as its
// secret_token, so that Telegram sends the secret in every request and
// WebhookHandler can tell Telegram from anyone else. The library's
// WebhookConfig has no secret_token, hence the raw request.
func (b *Bot) SetWebhook(ctx context.Context, url, secret string) error {
	params := tgbotapi.Params{"url": url}
	params.AddNonEmpty("secret_token", secret)
	// Telegram opens at most this many connections at once; the handler
	// queues no more than that either.
	params.AddNonZero("max_connections", min(cap(b.slots), 100))
	if _, err := b.with(ctx).MakeRequest("setWebhook", params); err != nil {
		return fmt.Errorf("bot: set webhook: %w", b.scrub(err))
	}
	b.logger.Info("bot: webhook set")
	return nil
}

// DeleteWebhook removes the bot's webhook, keeping the pending updates, so
// that long polling can receive them.
func (b *Bot) DeleteWebhook(ctx context.Context) error {
	if _, err := b.with(ctx).Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		return fmt.Errorf("bot: delete webhook: %w", b.scrub(err))
	}
	return nil
}

// WebhookURL returns the webhook Telegram has for the bot, "" when none is
// set.
func (b *Bot) WebhookURL(ctx context.Context) (string, error) {
	info, err := b.with(ctx).GetWebhookInfo()
	if err != nil {
		return "", fmt.Errorf("bot: get webhook info: %w", b.scrub(err))
	}
	return info.URL, nil
}

// WebhookHandler serves Telegram's webhook requests. It accepts only POSTs
// carrying secret in the X-Telegram-Bot-Api-Secret-Token header (401
// otherwise; an empty secret refuses everything) with a body of at most
// MaxWebhookBody bytes (413). It handles the update before answering:
// 200 means the update's transaction committed (or it was a duplicate of
// one that had), and 503 makes Telegram deliver it again later. Telegram
// sends a chat's next update only after the previous one was answered, so
// answering after the commit keeps each chat in order even across several
// instances.
//
// Neither bodies nor the secret are logged.
func (b *Bot) WebhookHandler(secret string) http.Handler {
	want := []byte(secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := []byte(r.Header.Get(secretHeader))
		if len(want) == 0 || subtle.ConstantTimeCompare(got, want) != 1 {
			b.logger.Warn("bot: webhook request without the right secret token", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var u tgbotapi.Update
		err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxWebhookBody)).Decode(&u)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				b.logger.Warn("bot: webhook body too large", "limit", MaxWebhookBody)
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			// The decoder's error quotes no input beyond a character.
			b.logger.Warn("bot: webhook body is not an update", "error", err.Error())
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		// A bounded number of updates is handled at once: a flood waits a
		// moment for a free slot and is otherwise refused with 503, which
		// Telegram answers by delivering the update again later, so memory
		// stays bounded and nothing is lost.
		if !b.acquireSlot(r.Context()) {
			b.logger.Warn("bot: webhook busy, Telegram will deliver the update again", "update", u.UpdateID)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy, try again later", http.StatusServiceUnavailable)
			return
		}
		defer b.releaseSlot()
		if err := b.HandleUpdate(r.Context(), u); err != nil {
			b.logger.Warn("bot: handling failed, Telegram will deliver the update again", "update", u.UpdateID, "error", err.Error())
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

// acquireSlot takes one of the slots for handling a webhook update, waiting at
// most slotWait, and reports whether it got one.
func (b *Bot) acquireSlot(ctx context.Context) bool {
	select {
	case b.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(b.slotWait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (b *Bot) releaseSlot() { <-b.slots }
