package flows

import (
	"errors"
	"fmt"
	"html"
	"slices"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"

	"migrantbot"
)

// turn is one step in progress: the session being changed and what to answer.
type turn struct {
	e      *Engine
	s      migrantbot.Session
	in     migrantbot.Input
	rec    migrantbot.Records
	lang   string
	from   string // the state when the input arrived
	loc    *i18n.Localizer
	out    []migrantbot.Message
	notice string
	submit *migrantbot.Appeal
	// followups and others are the turn's effects besides the submitted appeal.
	followups []migrantbot.FollowUp
	others    []migrantbot.Outgoing
	consent   *migrantbot.Consent // an answer to the privacy notice given now
	forgetAll bool                // the person asked to erase their data
}

// data is the template data of a localized message.
type data = map[string]any

// tr returns the message id in the turn's language, falling back to English.
// Keys are checked by tests, so a missing one is a bug that shows as its id.
func (t *turn) tr(id string, args ...any) string {
	if t.loc == nil {
		t.loc = i18n.NewLocalizer(t.e.cat.Bundle, t.lang, "en")
	}
	var d data
	if len(args) == 1 {
		d, _ = args[0].(data)
	}
	s, err := t.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: d})
	if err != nil && s == "" {
		return id
	}
	return strings.TrimSpace(s)
}

// esc escapes text that came from a person for Telegram's HTML.
func esc(s string) string { return html.EscapeString(s) }

// say adds a message to the answer.
func (t *turn) say(text string, rows ...[]migrantbot.Button) {
	t.out = append(t.out, migrantbot.Message{Text: text, Buttons: rows})
}

// sayInPlace adds a message that replaces the one whose button was pressed,
// when that was a menu or rights screen and nothing else is said first: a
// question or a review is kept in the chat's history.
func (t *turn) sayInPlace(text string, rows ...[]migrantbot.Button) {
	m := migrantbot.Message{Text: text, Buttons: rows}
	if t.in.Kind == migrantbot.InputButton && len(t.out) == 0 && (t.from == StateMenu || t.from == StateRights) {
		m.EditMessageID = t.in.MessageID
	}
	t.out = append(t.out, m)
}

func (t *turn) button(label, data string) migrantbot.Button {
	return migrantbot.Button{Text: t.tr(label), Data: data}
}

// dispatch routes the input by its kind and the current state.
func (t *turn) dispatch() error {
	in := t.in
	if in.Group {
		// Appeals hold personal details: they are only taken in a private chat.
		t.say(t.tr("err_group"))
		return nil
	}
	if in.Kind == migrantbot.InputLimited {
		// Nothing of what was sent is kept; the dialog stays where it is.
		t.say(t.tr("err_too_fast"))
		return nil
	}
	if t.s.State == StateNew && !(in.Kind == migrantbot.InputCommand && in.Command == "language") {
		return t.go_(evLanguage)
	}
	switch in.Kind {
	case migrantbot.InputCommand:
		return t.command()
	case migrantbot.InputButton:
		return t.pressed()
	case migrantbot.InputEdited:
		t.say(t.tr("err_edited"))
		return t.repeat()
	}
	if isIntake(t.s.State) {
		return t.answer()
	}
	if t.s.State == StateFollowUp {
		return t.followUp()
	}
	switch {
	case in.Kind == migrantbot.InputText && (t.s.State == StateMenu || t.s.State == StateRights) && strings.TrimSpace(in.Text) != "":
		// A question typed in the person's own words finds its topics.
		return t.answerQuestion(in.Text)
	case in.Kind == migrantbot.InputUnsupported:
		t.say(t.tr("err_unsupported"))
	default:
		t.say(t.tr("err_use_buttons"))
	}
	return t.repeat()
}

// go_ fires an event and shows the screen of the state it leads to.
func (t *turn) go_(event string) error {
	if err := t.move(event); err != nil {
		return err
	}
	return t.repeat()
}

// move fires an event, remembering an interrupted appeal so it can be resumed.
func (t *turn) move(event string) error {
	from := t.s.State
	if err := t.e.fire(&t.s, event); err != nil {
		return err
	}
	if isIntake(from) && !isIntake(t.s.State) && t.s.Draft != nil {
		if from == StateCancelConfirm {
			from = t.s.Return
		}
		if from != "" {
			t.s.Resume = from
		}
	}
	return nil
}

// repeat shows the screen of the current state again.
func (t *turn) repeat() error {
	switch st := t.s.State; {
	case st == StateNew || st == StateLanguage:
		t.languageScreen()
	case st == StateMenu:
		t.menuScreen()
	case st == StateRights:
		t.rightsScreen()
	case st == StateFollowUp:
		t.followUpQuestion()
	case isIntake(st):
		t.question()
	default:
		return fmt.Errorf("flows: no screen for state %q", st)
	}
	return nil
}

// command handles a slash command in any state.
func (t *turn) command() error {
	switch t.in.Command {
	case "start":
		if t.s.Lang == "" {
			return t.go_(evLanguage)
		}
		return t.toMenu()
	case "menu":
		return t.toMenu()
	case "language":
		return t.go_(evLanguage)
	case "help":
		t.say(t.tr("help_text"))
		return t.repeat()
	case "privacy":
		t.privacyNotice()
		if isIntake(t.s.State) || t.s.State == StateFollowUp {
			return t.repeat()
		}
		return nil
	case "mydata":
		return t.myData()
	case "forgetme":
		t.askForget()
		return nil
	case "status":
		if err := t.myAppeals(false); err != nil {
			return err
		}
		if isIntake(t.s.State) {
			return t.repeat()
		}
		return nil
	case "cancel":
		switch {
		case t.s.State == StateFollowUp:
			t.s.Cursor = ""
			return t.toMenu()
		case t.s.State == StateCancelConfirm:
			return t.repeat()
		case isIntake(t.s.State):
			t.s.Return = t.s.State
			return t.go_(evCancel)
		case t.s.Draft != nil:
			// The draft waits behind the menu; /cancel there discards it too.
			t.s.Return = ""
			return t.go_(evCancel)
		}
		t.say(t.tr("cancel_nothing"))
		return t.toMenu()
	}
	t.say(t.tr("err_unknown_command"))
	return t.repeat()
}

// toMenu shows the main menu, keeping any draft for later.
func (t *turn) toMenu() error {
	return t.go_(evMenu)
}

// pressed handles a pressed inline button. A button that would lead where
// the dialog cannot go from here (one from another screen, or made up) is
// answered as out of date, with the session as it was.
func (t *turn) pressed() error {
	before, said := t.s, len(t.out)
	err := t.press()
	if errors.Is(err, errNoSuchMove) {
		t.s, t.out = before, t.out[:said]
		return t.stale()
	}
	return err
}

// press handles a pressed inline button. Button data is "scope:args".
func (t *turn) press() error {
	scope, arg, _ := strings.Cut(t.in.Data, ":")
	switch scope {
	case "l":
		if t.s.State != StateLanguage {
			return t.stale()
		}
		if !slices.Contains(t.e.cat.Languages, arg) {
			return t.stale()
		}
		t.s.Lang, t.lang, t.loc = arg, arg, nil
		if err := t.move(evChooseLanguage); err != nil {
			return err
		}
		t.notice = t.tr("lang_set")
		return t.repeat()
	case "m":
		return t.menuItem(arg)
	case "r":
		return t.rights(arg)
	case "v":
		return t.appealButton(arg)
	case "p":
		return t.privacyButton(arg)
	case "a":
		state, action, _ := strings.Cut(arg, ":")
		if state != t.s.State || !isIntake(state) {
			return t.stale()
		}
		return t.intakeButton(action)
	}
	return t.stale()
}

// stale answers a button from an earlier message that no longer applies.
func (t *turn) stale() error {
	t.notice = t.tr("stale_notice")
	t.say(t.tr("err_stale"))
	return t.repeat()
}

// errNoRecords is returned when a step needs records it was not given.
var errNoRecords = errors.New("flows: no records for this step")
