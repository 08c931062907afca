package bot

import (
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Per-person update limit: a person may send this many updates in a window.
// Beyond it the first update of the window is answered with a request to slow
// down, carrying none of what was sent, and the rest are dropped: a flood from
// one person costs a map lookup, never a transaction, and does not slow
// anyone else down.
const (
	floodMax    = 20
	floodWindow = 10 * time.Second
)

// Verdicts of floodGuard.admit.
const (
	admitted = iota // handle the update
	warn            // over the limit for the first time in the window: say so
	dropped         // over the limit and already told
)

// floodGuard counts each chat's updates in fixed windows. The count lives in
// this process only: with several instances behind a webhook each counts its
// own share, which bounds a flood all the same.
type floodGuard struct {
	max    int
	window time.Duration

	mu        sync.Mutex
	chats     map[int64]*floodCount
	lastSweep time.Time
}

type floodCount struct {
	start  time.Time
	n      int
	warned bool
}

func newFloodGuard(max int, window time.Duration) *floodGuard {
	return &floodGuard{max: max, window: window, chats: map[int64]*floodCount{}}
}

// admit counts an update of chat arriving at now, written at written (zero
// when unknown), and says what to do with it. An update written more than
// a window ago is a backlog (the bot was down, Telegram held it back), not a
// flood: it is neither counted nor refused, so that what a person sent at
// a human pace is not dropped because it arrives all at once.
func (g *floodGuard) admit(chat int64, now, written time.Time) int {
	if g == nil || g.max <= 0 {
		return admitted
	}
	if !written.IsZero() && now.Sub(written) > g.window {
		return admitted
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	c := g.chats[chat]
	if c == nil || now.Sub(c.start) >= g.window || now.Before(c.start) {
		c = &floodCount{start: now}
		g.chats[chat] = c
	}
	c.n++
	switch {
	case c.n <= g.max:
		return admitted
	case !c.warned:
		c.warned = true
		return warn
	default:
		return dropped
	}
}

// sweep forgets the windows that are over, at most once a window, so that
// memory follows the people writing now, not everyone who ever wrote.
func (g *floodGuard) sweep(now time.Time) {
	if now.Sub(g.lastSweep) < g.window {
		return
	}
	g.lastSweep = now
	for chat, c := range g.chats {
		if now.Sub(c.start) >= g.window {
			delete(g.chats, chat)
		}
	}
}

// writtenAt is when the person sent the message of an update, zero when the
// update does not say (a pressed button, for which only its arrival counts).
func writtenAt(tu tgbotapi.Update) time.Time {
	m := personMessage(tu)
	if m == nil || m.Date == 0 {
		return time.Time{}
	}
	return time.Unix(int64(m.Date), 0)
}
