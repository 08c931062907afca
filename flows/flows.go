// Package flows holds the dialogs of the bot as one state machine (looplab/fsm):
// language choice, main menu, rights information, appeal intake and my appeals.
// A step takes a session and one input and returns the new session, the messages
// to show and the effects to commit. It knows nothing of Telegram or SQL and does
// no I/O beyond the Records it is handed.
package flows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/looplab/fsm"

	"migrantbot"
	"migrantbot/locales"
)

// States of the dialog. The appeal states are listed in the order of the questions.
const (
	StateNew           = "new"
	StateLanguage      = "language"
	StateMenu          = "menu"
	StateRights        = "rights"
	StateConsent       = "consent"
	StateSurname       = "surname"
	StateFirstName     = "first_name"
	StatePatronymic    = "patronymic"
	StateCitizenship   = "citizenship"
	StateCountry       = "country"
	StateCity          = "city"
	StateAddress       = "address"
	StateCategory      = "category"
	StateAuthority     = "authority"
	StateWhen          = "when"
	StateDescription   = "description"
	StateAttachments   = "attachments"
	StatePhone         = "phone"
	StateEmail         = "email"
	StateReview        = "review"
	StateCancelConfirm = "cancel_confirm"
	StateFollowUp      = "follow_up" // adding a message to a submitted appeal
)

// appealSteps are the questions of the appeal after consent, in order.
var appealSteps = []string{
	StateSurname, StateFirstName, StatePatronymic, StateCitizenship, StateCountry,
	StateCity, StateAddress, StateCategory, StateAuthority, StateWhen,
	StateDescription, StateAttachments, StatePhone, StateEmail,
}

// Events of the state machine.
const (
	evChooseLanguage = "choose_language"
	evLanguage       = "language"
	evMenu           = "menu"
	evRights         = "rights"
	evStartAppeal    = "start_appeal"
	evStartAgreed    = "start_agreed"
	evAgree          = "agree"
	evDecline        = "decline"
	evNext           = "next"
	evBack           = "back"
	evEdited         = "edited"
	evSubmit         = "submit"
	evCancel         = "cancel"
	evDiscard        = "discard"
	evResume         = "resume_" // + the state resumed
	evEdit           = "edit_"   // + the state edited
	evFollowUp       = "follow_up"
)

// Limits of answers.
const (
	maxName        = 100
	maxPlace       = 100
	maxAddress     = 300
	maxAuthority   = 500
	minDescription = 20
	maxDescription = 4000
	maxFiles       = 10
	maxFileSize    = 10 << 20 // below the Bot API's 20 MB getFile limit
	// maxAppealsPerDay is how many appeals one person may submit in 24
	// hours: enough for anyone with real trouble, and a bound on floods.
	maxAppealsPerDay = 3
)

// Options configure the dialogs.
type Options struct {
	// StaffChatID is a Telegram group told of new appeals; 0 for none.
	StaffChatID int64
	// StaffLang is the language of the group's announcements.
	StaffLang string
	// ConsoleURL is the staff console's address, linked from announcements.
	ConsoleURL string
	// RetentionDraftDays and RetentionClosedDays are the retention periods
	// the privacy notice tells (defaults 30 days and 5 years).
	RetentionDraftDays, RetentionClosedDays int
}

// Engine runs the dialogs.
type Engine struct {
	opt    Options
	cat    *locales.Catalog
	events fsm.Events
	topics map[string]topicRef // topic id → its category and sources
	index  searchIndex
	// machines holds state machines of events for reuse: *fsm.FSM.
	machines sync.Pool
}

type topicRef struct {
	category string
	appeal   string // the appeal category its "Submit an appeal about this" starts
	topic    locales.Topic
}

// New returns an Engine speaking the languages of cat.
func New(cat *locales.Catalog, opt Options) (*Engine, error) {
	if opt.StaffLang == "" {
		opt.StaffLang = "az"
	}
	if opt.RetentionDraftDays <= 0 {
		opt.RetentionDraftDays = defaultDraftDays
	}
	if opt.RetentionClosedDays <= 0 {
		opt.RetentionClosedDays = defaultClosedDays
	}
	e := &Engine{opt: opt, cat: cat, events: events(), topics: map[string]topicRef{}}
	if len(cat.Rights.Categories) == 0 {
		return nil, errors.New("flows: the rights information has no categories")
	}
	for _, c := range cat.Rights.Categories {
		if !slices.Contains(migrantbot.Categories, c.Appeal) {
			return nil, fmt.Errorf("flows: rights category %s: appeal category %q is not one of %v", c.ID, c.Appeal, migrantbot.Categories)
		}
		for _, t := range c.Topics {
			e.topics[t.ID] = topicRef{category: c.ID, appeal: c.Appeal, topic: t}
		}
	}
	if err := e.buildIndex(); err != nil {
		return nil, err
	}
	return e, nil
}

// events builds the transitions of the dialog.
func events() fsm.Events {
	all := append([]string{StateNew, StateLanguage, StateMenu, StateRights, StateConsent, StateReview, StateCancelConfirm, StateFollowUp}, appealSteps...)
	intake := append([]string{StateConsent, StateReview}, appealSteps...)
	ev := fsm.Events{
		{Name: evLanguage, Src: all, Dst: StateLanguage},
		{Name: evChooseLanguage, Src: []string{StateLanguage}, Dst: StateMenu},
		{Name: evMenu, Src: all, Dst: StateMenu},
		{Name: evRights, Src: all, Dst: StateRights},
		{Name: evStartAppeal, Src: []string{StateMenu, StateRights, StateFollowUp}, Dst: StateConsent},
		// Agreed to this version of the notice before: not asked again.
		{Name: evStartAgreed, Src: []string{StateMenu, StateRights, StateFollowUp}, Dst: appealSteps[0]},
		{Name: evFollowUp, Src: []string{StateMenu, StateRights, StateFollowUp, StateLanguage}, Dst: StateFollowUp},
		{Name: evAgree, Src: []string{StateConsent}, Dst: appealSteps[0]},
		{Name: evDecline, Src: []string{StateConsent}, Dst: StateMenu},
		{Name: evBack, Src: []string{StateSurname}, Dst: StateConsent},
		{Name: evBack, Src: []string{StateConsent}, Dst: StateMenu},
		{Name: evNext, Src: []string{appealSteps[len(appealSteps)-1]}, Dst: StateReview},
		{Name: evBack, Src: []string{StateReview}, Dst: appealSteps[len(appealSteps)-1]},
		{Name: evEdited, Src: appealSteps, Dst: StateReview},
		{Name: evSubmit, Src: []string{StateReview}, Dst: StateMenu},
		{Name: evCancel, Src: append([]string{StateMenu, StateRights, StateLanguage}, intake...), Dst: StateCancelConfirm},
		{Name: evDiscard, Src: []string{StateCancelConfirm}, Dst: StateMenu},
	}
	for i, st := range appealSteps {
		if i+1 < len(appealSteps) {
			ev = append(ev,
				fsm.EventDesc{Name: evNext, Src: []string{st}, Dst: appealSteps[i+1]},
				fsm.EventDesc{Name: evBack, Src: []string{appealSteps[i+1]}, Dst: st})
		}
		ev = append(ev, fsm.EventDesc{Name: evEdit + st, Src: []string{StateReview}, Dst: st})
	}
	// A kept draft is resumed at its question from the menu, or after the
	// person chose not to cancel.
	for _, st := range intake {
		ev = append(ev, fsm.EventDesc{Name: evResume + st, Src: []string{StateMenu, StateRights, StateCancelConfirm, StateLanguage, StateFollowUp}, Dst: st})
	}
	return ev
}

// Diagram returns the dialog's state machine as a Mermaid state diagram.
func (e *Engine) Diagram() (string, error) {
	return fsm.VisualizeWithType(fsm.NewFSM(StateNew, e.events, nil), fsm.MERMAID)
}

// fire moves the session along the state machine, refusing transitions the
// dialog does not have.
func (e *Engine) fire(s *migrantbot.Session, event string) error {
	// Building a machine costs more than the rest of a step; machines are
	// reused, each by one step at a time.
	f, _ := e.machines.Get().(*fsm.FSM)
	if f == nil {
		f = fsm.NewFSM(s.State, e.events, nil)
	} else {
		f.SetState(s.State)
	}
	defer e.machines.Put(f)
	err := f.Event(context.Background(), event)
	var noTransition fsm.NoTransitionError
	if err != nil && !errors.As(err, &noTransition) {
		// A move the dialog does not have is a bug or a button from another
		// screen; retrying the update would never help, so it is not retried.
		return fmt.Errorf("flows: %s from %q: %w: %w", event, s.State, errNoSuchMove, err)
	}
	s.State = f.Current()
	return nil
}

// isIntake reports whether state is a step of filing an appeal.
func isIntake(state string) bool {
	return state == StateConsent || state == StateReview || state == StateCancelConfirm || slices.Contains(appealSteps, state)
}

// Step applies one input to a session and returns what to show and commit.
func (e *Engine) Step(s migrantbot.Session, in migrantbot.Input, rec migrantbot.Records) (migrantbot.Turn, error) {
	if s.State == "" {
		s.State = StateNew
	}
	in = clean(in)
	t := &turn{e: e, s: s, in: in, rec: rec, from: s.State}
	if t.s.Lang == "" {
		t.lang = e.guessLanguage(in.LanguageCode)
	} else {
		t.lang = t.s.Lang
	}
	if err := t.dispatch(); err != nil {
		return migrantbot.Turn{}, err
	}
	if t.from == StatePhone && t.s.State != StatePhone {
		t.closeContactKeyboard()
	}
	return migrantbot.Turn{Session: t.s, Messages: t.out, Notice: t.notice, Submit: t.submit, FollowUps: t.followups, Others: t.others,
		Consent: t.consent, Forget: t.forgetAll}, nil
}

// guessLanguage maps Telegram's language_code to a language the bot speaks.
func (e *Engine) guessLanguage(code string) string {
	code = strings.ToLower(code)
	if i := strings.IndexAny(code, "-_"); i > 0 {
		code = code[:i]
	}
	if slices.Contains(e.cat.Languages, code) {
		return code
	}
	// People from the post-Soviet countries most often read Russian too.
	switch code {
	case "uk", "be", "kk", "ky", "uz", "tg", "tk", "hy", "ka", "mo":
		if slices.Contains(e.cat.Languages, "ru") {
			return "ru"
		}
	case "tr":
		if slices.Contains(e.cat.Languages, "az") {
			return "az"
		}
	}
	return "en"
}

// Commands returns the bot's commands described in lang.
func (e *Engine) Commands(lang string) []migrantbot.Command {
	t := &turn{e: e, lang: lang}
	var cmds []migrantbot.Command
	for _, name := range []string{"start", "menu", "help", "language", "cancel", "status", "privacy", "mydata", "forgetme"} {
		cmds = append(cmds, migrantbot.Command{Name: name, Description: t.tr("cmd_" + name)})
	}
	return cmds
}

// Languages returns the languages the dialogs speak, in the order of the language menu.
func (e *Engine) Languages() []string { return e.cat.Languages }

// Handler returns the function that applies one input of a chat exactly once:
// conv locks and commits, the engine decides.
func (e *Engine) Handler(conv migrantbot.Conversations) migrantbot.HandleFunc {
	return func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		return conv.Apply(ctx, u, func(s migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
			if s.ChatID == 0 {
				s.ChatID, s.UserID = u.ChatID, u.UserID
			}
			return e.Step(s, in, rec)
		})
	}
}

// clean removes NUL characters from what a person sent: PostgreSQL refuses
// them in text, and no answer needs one.
func clean(in migrantbot.Input) migrantbot.Input {
	nul := func(s string) string { return strings.ReplaceAll(s, "\x00", "") }
	in.Text, in.Data, in.Phone, in.Command = nul(in.Text), nul(in.Data), nul(in.Phone), nul(in.Command)
	if in.File != nil {
		f := *in.File
		f.Caption, f.FileName, f.MimeType = nul(f.Caption), nul(f.FileName), nul(f.MimeType)
		in.File = &f
	}
	return in
}

// errNoSuchMove is a transition the dialog does not have. It carries the
// code EINVALID, so an update that causes it is answered, not retried.
var errNoSuchMove = migrantbot.Errorf(migrantbot.EINVALID, "no such move in the dialog")
