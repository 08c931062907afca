// Package flows holds the dialogs of the bot as state machines (looplab/fsm):
// language choice, main menu, rights information, appeal intake, my appeals.
// A step takes a session and one input and returns the new session, the
// messages to show and the effects to commit. It knows nothing of Telegram or
// SQL and does no I/O beyond the Records it is handed.
package flows

import (
	"migrantbot"
	"migrantbot/locales"
)

// Engine runs the dialogs.
type Engine struct {
	cat *locales.Catalog
}

// New returns an Engine speaking the languages of cat.
func New(cat *locales.Catalog) (*Engine, error) {
	return &Engine{cat: cat}, nil
}

// Step applies one input to a session.
func (e *Engine) Step(s migrantbot.Session, in migrantbot.Input, rec migrantbot.Records) (migrantbot.Turn, error) {
	panic("not yet")
}

// Commands returns the bot's commands described in lang.
func (e *Engine) Commands(lang string) []migrantbot.Command {
	panic("not yet")
}
