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
	"cmp"
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
	// APIURL is the Bot API's base URL, the one given to Connect; default
	// DefaultAPIURL. OpenFile downloads files from APIURL/file/bot<token>/.
	APIURL string
	// ChatRate is how many messages a second go to one private chat after a
	// short burst; default 1, as Telegram asks. Only a self-hosted Bot API
	// server or a test double warrants more.
	ChatRate float64
	// Rate is how many messages a second the bot sends in all; default 30,
	// as Telegram asks. Only a self-hosted Bot API server or a test double
	// warrants more.
	Rate float64
	// Observer is told of every update handled and every failed call to
	// send, for metrics; nil tells no one.
	Observer Observer
	// UpdateLimit is how many updates one person may send in 10 seconds;
	// default 20 (floodMax), negative for no limit. The first update over the
	// limit is answered with a request to slow down, the rest are dropped.
	UpdateLimit int
}

// Bot receives updates from Telegram and delivers the bot's messages.
type Bot struct {
	api    *tgbotapi.BotAPI
	handle migrantbot.HandleFunc
	outbox migrantbot.Outbox
	logger *slog.Logger
	opt    Options

	limiter *limiter
	chats   *chatStates
	flood   *floodGuard
	// slots bounds the webhook updates handled at once (Workers × 4).
	slots    chan struct{}
	slotWait time.Duration

	mu        sync.Mutex
	inflight  map[int64]bool      // outbox ids being delivered by this process
	track     map[int64]*tracking // outbox ids with a delivery history in this process
	lastSweep time.Time

	// Timings and limits, variables so that tests can change them.
	retryMin    time.Duration   // first wait before handling a failed update again
	retryMax    time.Duration   // longest wait between handling attempts
	pollWaitMin time.Duration   // first wait after a failed getUpdates
	pollWaitMax time.Duration   // longest wait after a failed getUpdates
	grace       time.Duration   // how long updates in hand may run after Poll is cancelled
	outboxEvery time.Duration   // how often RunOutbox looks for due messages
	sendBackoff []time.Duration // waits after failed deliveries, by attempt
	// inPlace is how long a delivery may wait for its chat's turn before it
	// hands the chat's messages back to the outbox: a moment, so that a
	// message due a little early does not make a round trip, while a chat
	// flooded with messages stalls neither the polling loop nor the outbox
	// worker.
	inPlace time.Duration
	// startWithin is how long after a Deliver call began a message may still
	// be started; later ones go back to the outbox. With sendTimeout it stays
	// well inside the time the outbox leaves a claimed message to its
	// claimer (30 s after an update's commit, a minute after Due), so no
	// other instance can claim a message while this one may still send it.
	startWithin time.Duration
	sendTimeout time.Duration // longest wait for one Bot API call when sending
	maxFileSize int64         // largest file OpenFile fetches
}

// tracking is the delivery history of one outbox message in this process.
type tracking struct {
	attempts int // failed deliveries, for the backoff
	// parts counts the parts of a split message Telegram already accepted,
	// so that a retry does not send them twice.
	parts int
	// outcome is "sent" or "blocked" once the message reached its end: it
	// is not sent again if the outbox hands it out once more (the worker
	// racing an update's delivery, or telling the outbox failed).
	outcome  string
	reason   string
	reported bool      // the outbox was told the outcome
	at       time.Time // last change, to forget old entries
}

// Outcomes of a delivery kept in tracking.outcome.
const (
	outcomeSent    = "sent"
	outcomeBlocked = "blocked"
)

// New returns a Bot that talks to Telegram through api, applies inputs with
// handle and tracks deliveries in outbox.
func New(api *tgbotapi.BotAPI, handle migrantbot.HandleFunc, outbox migrantbot.Outbox, logger *slog.Logger, opt Options) *Bot {
	if opt.Workers <= 0 {
		opt.Workers = 8
	}
	if opt.PollTimeout <= 0 {
		opt.PollTimeout = 30
	}
	if opt.APIURL == "" {
		opt.APIURL = DefaultAPIURL
	}
	if opt.Observer == nil {
		opt.Observer = nopObserver{}
	}
	// A client timeout shorter than the long poll would fail every poll.
	if c, ok := api.Client.(*http.Client); ok && c.Timeout > 0 && c.Timeout <= time.Duration(opt.PollTimeout+5)*time.Second {
		opt.PollTimeout = max(int(c.Timeout/time.Second)-5, 1)
	}
	return &Bot{
		api:       api,
		handle:    handle,
		outbox:    outbox,
		logger:    logger,
		opt:       opt,
		limiter:   newLimiter(cmp.Or(opt.Rate, globalRate), cmp.Or(opt.Rate, globalRate)),
		chats:     newChatStates(rateOf(opt.ChatRate)),
		flood:     newFloodGuard(cmp.Or(opt.UpdateLimit, floodMax), floodWindow),
		slots:     make(chan struct{}, opt.Workers*4),
		slotWait:  time.Second,
		inflight:  map[int64]bool{},
		track:     map[int64]*tracking{},
		lastSweep: time.Now(),
		retryMin:  500 * time.Millisecond,
		// Short enough that handling resumes within seconds of the database
		// coming back, even after a long outage.
		retryMax:    5 * time.Second,
		pollWaitMin: time.Second,
		pollWaitMax: 30 * time.Second,
		grace:       10 * time.Second,
		outboxEvery: time.Second,
		sendBackoff: []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour},
		inPlace:     250 * time.Millisecond,
		startWithin: 15 * time.Second,
		sendTimeout: 10 * time.Second,
		maxFileSize: MaxFileSize,
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
