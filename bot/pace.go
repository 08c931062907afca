package bot

import (
	"context"
	"sync"
	"time"
)

// Telegram's limits on how fast a bot may write: about 30 messages a second
// in all, about one a second to one private chat, and 20 a minute to one
// group. A short burst to one chat is tolerated, so a dialog's answer of two
// or three messages goes out at once; only a flood to one chat is paced.
const (
	globalRate = 30.0
	chatRate   = 1.0
	groupRate  = 20.0 / 60
	chatBurst  = 3.0
)

// queueExpiry is how long after its due time a message this process handed
// back to the outbox still holds its chat's later messages back. It returns
// to this process's worker within a second or two of that time; if it does
// not (another instance took it, or its row is gone), the hold ends then.
const queueExpiry = 2 * time.Minute

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

// chatState is what this process knows of the deliveries to one chat: the
// lock that makes them one at a time, the token bucket that paces them, and
// the messages handed back to the outbox, which the chat's later messages
// must not overtake.
type chatState struct {
	mu   sync.Mutex // held while delivering to the chat
	refs int        // holders and waiters of mu; guarded by chatStates.mu
	id   int64

	// The fields below are guarded by mu.
	rate   float64   // tokens per second
	tokens float64   // messages that may go out now
	last   time.Time // when tokens was counted; in the future while Telegram asked to pause the chat
	// queued maps the outbox ids this process handed back to the outbox to
	// the time they are due again.
	queued map[int64]time.Time
}

// refill adds the tokens earned since the last count.
func (c *chatState) refill(now time.Time) {
	if now.After(c.last) {
		c.tokens = min(chatBurst, c.tokens+now.Sub(c.last).Seconds()*c.rate)
		c.last = now
	}
}

// delay is how long until the chat may be sent another message.
func (c *chatState) delay(now time.Time) time.Duration {
	c.refill(now)
	var d time.Duration
	if c.last.After(now) {
		d = c.last.Sub(now) // paused by a 429
	}
	if c.tokens < 1 {
		d += time.Duration((1 - c.tokens) / c.rate * float64(time.Second))
	}
	return d
}

// take counts one message sent to the chat.
func (c *chatState) take(now time.Time) {
	c.refill(now)
	c.tokens--
}

// pause stops sending to the chat until at, as Telegram asked with
// retry_after; then one message may go at once and the pacing resumes.
func (c *chatState) pause(now, at time.Time) {
	c.refill(now)
	if at.After(c.last) {
		c.last = at
	}
	c.tokens = 1
}

// step is the pacing interval between two messages to the chat.
func (c *chatState) step() time.Duration {
	return time.Duration(float64(time.Second) / c.rate)
}

// behind reports whether message id must wait for a message of the chat that
// was handed back to the outbox before it: one with a lower id that has not
// come back yet. Holds older than queueExpiry are forgotten.
func (c *chatState) behind(id int64, now time.Time) bool {
	held := false
	for q, due := range c.queued {
		if now.After(due.Add(queueExpiry)) {
			delete(c.queued, q)
			continue
		}
		if q < id {
			held = true
		}
	}
	return held
}

// requeue records that message id goes back to the outbox and returns how
// long the outbox must hold it: at least wait, and not less than any message
// of the chat with a lower id that is already back there, plus step, so
// that they come out again in order. A step of the chat's pace spreads
// messages that are known to have to wait their turn; a step of 0 lets
// messages held back by a failure come out together, to be sent in a burst
// as far as the pace allows.
func (c *chatState) requeue(id int64, now time.Time, wait, step time.Duration) time.Duration {
	at := now.Add(max(wait, 0))
	for q, due := range c.queued {
		if q < id && !at.After(due) {
			at = due.Add(step)
		}
	}
	c.queued[id] = at
	return at.Sub(now)
}

// done forgets a message that reached its end (sent or blocked).
func (c *chatState) done(id int64) {
	delete(c.queued, id)
}

// idle reports whether the state holds nothing worth keeping: no messages
// waiting in the outbox and a full bucket.
func (c *chatState) idle(now time.Time) bool {
	c.behind(0, now) // drops the expired holds
	return len(c.queued) == 0 && c.delay(now) == 0 && c.tokens >= chatBurst
}

// chatStates holds the state of the chats this process delivers to.
type chatStates struct {
	mu        sync.Mutex
	m         map[int64]*chatState
	lastSweep time.Time
	// rate returns the pacing of a chat in messages a second.
	rate func(chatID int64) float64
}

func newChatStates(rate func(chatID int64) float64) *chatStates {
	return &chatStates{m: map[int64]*chatState{}, lastSweep: time.Now(), rate: rate}
}

// lock returns the state of chatID, locked for delivering to the chat.
func (s *chatStates) lock(chatID int64) *chatState {
	s.mu.Lock()
	now := time.Now()
	if now.Sub(s.lastSweep) > time.Minute {
		s.sweep(now)
	}
	c := s.m[chatID]
	if c == nil {
		c = &chatState{id: chatID, rate: s.rate(chatID), tokens: chatBurst, last: now, queued: map[int64]time.Time{}}
		s.m[chatID] = c
	}
	c.refs++
	s.mu.Unlock()
	c.mu.Lock()
	return c
}

// unlock ends a delivery to chatID.
func (s *chatStates) unlock(c *chatState) {
	c.mu.Unlock()
	s.mu.Lock()
	c.refs--
	s.mu.Unlock()
}

// sweep forgets the chats that nobody is delivering to and that hold
// nothing; s.mu must be held.
func (s *chatStates) sweep(now time.Time) {
	s.lastSweep = now
	for id, c := range s.m {
		if c.refs > 0 {
			continue
		}
		// Nobody holds or waits for c.mu while refs is 0 under s.mu.
		c.mu.Lock()
		idle := c.idle(now)
		c.mu.Unlock()
		if idle {
			delete(s.m, id)
		}
	}
}

// rateOf returns the pacing of chats: groups (negative ids) get 20 messages
// a minute, private chats private a second (chatRate when not set).
func rateOf(private float64) func(chatID int64) float64 {
	if private <= 0 {
		private = chatRate
	}
	return func(chatID int64) float64 {
		if chatID < 0 {
			return groupRate
		}
		return private
	}
}
