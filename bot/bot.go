// Package bot is the Telegram adapter and the only package that imports the
// Telegram client library. It turns updates into migrantbot.Input for the
// HandleFunc that cmd wires to the store and the dialogs, renders
// migrantbot.Message as Telegram messages (HTML, keyboards, the 4096
// character limit) and delivers the outbox.
//
// Long polling (Poll) and, later, webhooks feed the same HandleUpdate. The
// polling offset moves past an update only after its handling committed, so
// a crash or a database outage never loses an update.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

// DefaultAPIURL is Telegram's Bot API.
const DefaultAPIURL = "https://api.telegram.org"

// Options tunes a Bot. The zero value gives the defaults.
type Options struct {
	// Workers is how many chats are handled in parallel; default 8.
	Workers int
	// PollTimeout is the long polling timeout in seconds; default 30.
	PollTimeout int
}

// Bot receives updates from Telegram and delivers the bot's messages.
type Bot struct {
	api    *tgbotapi.BotAPI
	handle migrantbot.HandleFunc
	outbox migrantbot.Outbox
	logger *slog.Logger
	opt    Options

	limiter *limiter
	chats   chatLocks

	mu       sync.Mutex
	inflight map[int64]bool // outbox ids being delivered by this process
	attempts map[int64]int  // failed deliveries per outbox id, for the backoff

	// Timings, variables so that tests can shorten them.
	retryMin    time.Duration   // first wait before handling a failed update again
	retryMax    time.Duration   // longest wait between handling attempts
	pollWaitMin time.Duration   // first wait after a failed getUpdates
	pollWaitMax time.Duration   // longest wait after a failed getUpdates
	grace       time.Duration   // how long updates in hand may run after Poll is cancelled
	outboxEvery time.Duration   // how often RunOutbox looks for due messages
	sendBackoff []time.Duration // waits after failed deliveries, by attempt
	blockedWait time.Duration   // wait after the person blocked the bot
}

// New returns a Bot that talks to Telegram through api, applies inputs with
// handle and tracks deliveries in outbox.
func New(api *tgbotapi.BotAPI, handle migrantbot.HandleFunc, outbox migrantbot.Outbox, logger *slog.Logger, opt Options) *Bot {
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.PollTimeout <= 0 {
		opt.PollTimeout = 30
	}
	// A client timeout shorter than the long poll would fail every poll.
	if c, ok := api.Client.(*http.Client); ok && c.Timeout > 0 && c.Timeout <= time.Duration(opt.PollTimeout+5)*time.Second {
		opt.PollTimeout = max(int(c.Timeout/time.Second)-5, 1)
	}
	return &Bot{
		api:         api,
		handle:      handle,
		outbox:      outbox,
		logger:      logger,
		opt:         opt,
		limiter:     newLimiter(30, 30),
		chats:       chatLocks{m: map[int64]*chatLock{}},
		inflight:    map[int64]bool{},
		attempts:    map[int64]int{},
		retryMin:    500 * time.Millisecond,
		retryMax:    30 * time.Second,
		pollWaitMin: time.Second,
		pollWaitMax: 30 * time.Second,
		grace:       10 * time.Second,
		outboxEvery: time.Second,
		sendBackoff: []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour},
		blockedWait: 24 * time.Hour,
	}
}

// Connect makes the Bot API client for token at apiURL (DefaultAPIURL when
// empty) and checks the token with getMe. While the API cannot be reached it
// tries again with exponential backoff (1s to 30s, with jitter) until ctx is
// done, logging why each try failed. A token that Telegram refuses (401, 404)
// is returned as an error at once: waiting will not fix it. Neither the logs
// nor the errors contain the token.
//
// client may be nil; if it has a Timeout, it must be longer than the long
// polling timeout.
func Connect(ctx context.Context, apiURL, token string, client *http.Client, logger *slog.Logger) (*tgbotapi.BotAPI, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	if client == nil {
		client = &http.Client{}
	}
	endpoint := strings.TrimRight(apiURL, "/") + "/bot%s/%s"
	wait := time.Second
	for attempt := 1; ; attempt++ {
		api, err := tgbotapi.NewBotAPIWithClient(token, endpoint, ctxClient{ctx: ctx, next: client})
		if err == nil {
			api.Client = client
			logger.Info("bot: connected to the Bot API", "bot", api.Self.UserName, "attempts", attempt)
			return api, nil
		}
		err = redact(err, token)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("bot: connect: %w", errors.Join(ctx.Err(), err))
		}
		var te *tgbotapi.Error
		if errors.As(err, &te) && (te.Code == http.StatusUnauthorized || te.Code == http.StatusNotFound) {
			return nil, fmt.Errorf("bot: connect: Telegram refused the bot token (%d): %w", te.Code, err)
		}
		d := jitter(wait)
		logger.Warn("bot: cannot reach the Bot API, retrying", "attempt", attempt, "retry_in", d, "error", err.Error())
		if !sleep(ctx, d) {
			return nil, fmt.Errorf("bot: connect: %w", errors.Join(ctx.Err(), err))
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// ctxClient gives the library's requests, which it makes without a context,
// the context of the call that caused them, so that cancelling stops them.
type ctxClient struct {
	ctx  context.Context
	next tgbotapi.HTTPClient
}

func (c ctxClient) Do(req *http.Request) (*http.Response, error) {
	return c.next.Do(req.WithContext(c.ctx))
}

// with returns the API client bound to ctx.
func (b *Bot) with(ctx context.Context) *tgbotapi.BotAPI {
	api := *b.api
	api.Client = ctxClient{ctx: ctx, next: b.api.Client}
	return &api
}

// redactedError hides the bot token that the library's errors carry in the
// request URL.
type redactedError struct {
	err    error
	tokens []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, t := range e.tokens {
		msg = strings.ReplaceAll(msg, t, "<token>")
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

func redact(err error, token string) error {
	if err == nil || token == "" {
		return err
	}
	return &redactedError{err: err, tokens: []string{token, url.PathEscape(token), url.QueryEscape(token)}}
}

// scrub hides the token in an error of the Bot API client.
func (b *Bot) scrub(err error) error { return redact(err, b.api.Token) }

// jitter spreads d by ±20%, so that many instances do not retry in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d*4/5 + rand.N(d*2/5+1)
}

// sleep waits d and reports false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// limiter is a token bucket for Telegram's global limit of about 30
// messages per second.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newLimiter(rate, burst float64) *limiter {
	return &limiter{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// wait takes a token, sleeping until there is one, or returns ctx's error.
func (l *limiter) wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens--
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d > 0 && !sleep(ctx, d) {
		return ctx.Err()
	}
	return ctx.Err()
}

// chatLocks serialises deliveries to one chat, so that the messages of an
// update and those of the outbox never interleave.
type chatLocks struct {
	mu sync.Mutex
	m  map[int64]*chatLock
}

type chatLock struct {
	mu   sync.Mutex
	refs int
}

func (c *chatLocks) lock(chatID int64) (unlock func()) {
	c.mu.Lock()
	l := c.m[chatID]
	if l == nil {
		l = &chatLock{}
		c.m[chatID] = l
	}
	l.refs++
	c.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		c.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(c.m, chatID)
		}
		c.mu.Unlock()
	}
}
