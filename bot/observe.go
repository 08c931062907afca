package bot

import (
	"context"
	"errors"
	"net/http"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Observer is told what the bot does, for metrics. Its methods are called
// from many goroutines at once and must not block. The values passed are
// fixed words chosen by this package, never anything a person sent or an id.
type Observer interface {
	// Update is called once for every update HandleUpdate finished, with the
	// update's kind (text, command, button, contact, photo, document,
	// unsupported, edited, ignored), its outcome (handled, duplicate,
	// refused, failed, panic, ignored, limited) and how long handling took,
	// delivering the answers included.
	Update(kind, outcome string, d time.Duration)
	// RateLimited is called for every 429 Too Many Requests of the Bot API.
	RateLimited()
	// RequestFailed is called for every Bot API call that sends or edits a
	// message, answers a button or fetches updates and fails, with the
	// reason: rate_limited (429, also counted by RateLimited), client_error
	// (another 4xx), server_error (5xx) or network (no answer, or one that
	// is not the Bot API's JSON, as from a proxy in between). Calls cut short because the bot is stopping are
	// not failures.
	RequestFailed(reason string)
}

// Reasons passed to Observer.RequestFailed.
const (
	failRateLimited = "rate_limited"
	failClient      = "client_error"
	failServer      = "server_error"
	failNetwork     = "network"
)

// nopObserver is the Observer of a Bot made without one.
type nopObserver struct{}

func (nopObserver) Update(string, string, time.Duration) {}
func (nopObserver) RateLimited()                         {}
func (nopObserver) RequestFailed(string)                 {}

// observeSend tells the Observer about a failed Bot API call: sending,
// answering a button, or fetching updates. ctx is the context the call was
// made with.
func (b *Bot) observeSend(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	var te *tgbotapi.Error
	switch {
	case !errors.As(err, &te):
		b.opt.Observer.RequestFailed(failNetwork)
	case te.Code == http.StatusTooManyRequests:
		b.opt.Observer.RateLimited()
		b.opt.Observer.RequestFailed(failRateLimited)
	case te.Code >= 500:
		b.opt.Observer.RequestFailed(failServer)
	default:
		b.opt.Observer.RequestFailed(failClient)
	}
}
