package flows

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

// maxShown is how many characters (UTF-16 code units of the parsed text) a
// Telegram message shows at most; longer texts are split by the adapter at
// line breaks.
const maxShown = 4096

// FuzzStepText sends any text, as a message, as the data of a pressed button
// and as one more kind of input chosen by extra, to every state of the
// dialog, and checks what every answer must satisfy.
func FuzzStepText(f *testing.F) {
	for _, s := range []string{
		"", " ", "hello", "Aliyev", "O'Brien-Смирнов", "01.10.2026", "+994501234567", "user@example.com",
		"I need help <now> & here &amp; <b>bold</b> <script>x</script>", "😀😀😀", "\u200b\u00a0\t\n",
		strings.Repeat("long ", 900), strings.Repeat("Ж", 4001), strings.Repeat("x", 65),
		"AP-2026-000007", "ap-2026-000007", "v:AP-2026-000007", "v:AP-2026-000007:add", "v:AP-2026-999999:add",
		"l:en", "l:ru", "l:zz", "l:", "m:appeal", "m:appeal:labour", "m:appeal:nothing", "m:mine", "m:menu", "m:rights",
		"m:lang", "m:contacts", "r:c:work", "r:c:", "r:t:wages", "r:t:gone", "r:t:", "c:", "t:", "x:unknown",
		"a:consent:yes", "a:consent:no", "a:patronymic:none", "a:citizenship:c:UZ", "a:citizenship:c:", "a:country:c:AZ",
		"a:category:c:labour", "a:category:c:x", "a:authority:skip", "a:when:c:over_year", "a:when:c:",
		"a:description:continue", "a:attachments:done", "a:email:skip", "a:email:back", "a:phone:back", "a:phone:cancel",
		"a:review:submit", "a:review:back", "a:review:cancel", "a:review:edit:description", "a:review:edit:city",
		"a:review:edit:phone", "a:review:edit:", "a:review:edit:review", "a:cancel_confirm:yes", "a:cancel_confirm:no",
		"a:nowhere:back", "a:", "a:::", ":", "start", "menu", "cancel", "status", "language", "privacy", "help",
		"mydata", "forgetme", "p:mydata", "p:forget", "p:forget:yes", "p:forget:yes:1764158400", "p:forget:yes:x", "p:forget:no", "p:", "p:forget:maybe",
	} {
		f.Add(s, uint8(0), uint8(0))
	}
	f.Add("My employer has not paid me for three months.", uint8(1), uint8(1))
	f.Add("passport", uint8(2), uint8(2))
	f.Add("Baku", uint8(3), uint8(3))

	e := newEngine(f)
	states := append([]string{StateNew, StateLanguage, StateMenu, StateRights, StateConsent, StateReview,
		StateCancelConfirm, StateFollowUp}, appealSteps...)
	// The longest description there may be, with characters that need
	// escaping and that count twice, for the review screen.
	longDescription := []rune(strings.Repeat("Зарплата <3 мес> & 😀 не выплачена. ", 200))[:maxDescription]
	rec := &fakeRecords{appeals: []migrantbot.AppealSummary{
		{Reference: "AP-2026-000007", Category: "labour", Status: migrantbot.StatusInReview, SubmittedAt: now},
	}}
	f.Fuzz(func(t *testing.T, text string, lang, extra uint8) {
		langs := append([]string{""}, e.Languages()...)
		l := langs[int(lang)%len(langs)]
		for _, st := range states {
			draft := fullDraft()
			if extra&0x80 != 0 {
				draft.Description = string(longDescription)
			}
			s := migrantbot.Session{ChatID: 42, UserID: 42, Lang: l, State: st, Draft: draft, Replace: extra&0x40 != 0}
			if st == StateFollowUp {
				s.Cursor = "AP-2026-000007"
			}
			if !isIntake(st) {
				// A draft outside the appeal is one left for later, kept with
				// the question to resume at.
				s.Resume = StateCity
			}
			if st == StateNew || (extra&0x20 != 0 && (!isIntake(st) || st == StateConsent)) {
				// A new chat, or a person with no appeal begun.
				s.Draft, s.Resume = nil, ""
			}
			if st == StateNew {
				s.Lang = ""
			}
			inputs := []migrantbot.Input{
				{Kind: migrantbot.InputText, Text: text},
				{Kind: migrantbot.InputButton, Data: text, MessageID: 3},
			}
			switch extra % 4 {
			case 1:
				inputs = append(inputs, migrantbot.Input{Kind: migrantbot.InputCommand, Command: commandName(text)})
			case 2:
				inputs = append(inputs, migrantbot.Input{Kind: migrantbot.InputFile, Text: text,
					File: &migrantbot.Attachment{FileID: "f", FileUniqueID: "u", Kind: "photo", Size: 5, Caption: text}})
			case 3:
				inputs = append(inputs, migrantbot.Input{Kind: migrantbot.InputEdited, Text: text})
			}
			for _, in := range inputs {
				in.Now = now
				turn, err := e.Step(s, in, rec)
				if err != nil {
					t.Fatalf("state %q lang %q input %+v: %v", st, l, in, err)
				}
				checkTurn(t, e, s, in, turn)
			}
		}
	})
}

// commandName makes a command name the way the adapter does: lower case,
// without the slash, the bot's name and the arguments.
func commandName(text string) string {
	name := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(text), "/"))
	if f := strings.Fields(name); len(f) > 0 {
		name = f[0]
	} else {
		name = "start"
	}
	name, _, _ = strings.Cut(name, "@")
	if name == "" {
		name = "start"
	}
	return name
}

// checkTurn checks one step's answer to in from session s.
func checkTurn(t *testing.T, e *Engine, s migrantbot.Session, in migrantbot.Input, turn migrantbot.Turn) {
	t.Helper()
	where := func() string { return "state " + s.State + " lang " + s.Lang + " kind " + string(rune('0'+in.Kind)) }
	if len(turn.Messages) == 0 {
		t.Fatalf("%s: no answer to %q", where(), in.Text+in.Data)
	}
	msgs := slices.Clone(turn.Messages)
	for _, o := range turn.Others {
		msgs = append(msgs, o.Message)
	}
	// What the person wrote may be longer than a Telegram message when
	// characters outside the BMP count twice (the description is limited
	// in characters, Telegram counts UTF-16 code units); the adapter cuts
	// such a line at spaces or between characters.
	var own []string
	for _, d := range []*migrantbot.Appeal{s.Draft, turn.Session.Draft} {
		if d != nil && d.Description != "" {
			own = append(own, d.Description)
		}
	}
	for i, m := range msgs {
		checkMessage(t, where(), i, m, own)
	}
	ns := turn.Session
	if ns.ChatID != s.ChatID || ns.UserID != s.UserID {
		t.Errorf("%s: session moved to chat %d user %d", where(), ns.ChatID, ns.UserID)
	}
	known := append([]string{StateNew, StateLanguage, StateMenu, StateRights, StateConsent, StateReview,
		StateCancelConfirm, StateFollowUp}, appealSteps...)
	if !slices.Contains(known, ns.State) {
		t.Fatalf("%s: unknown state %q", where(), ns.State)
	}
	if ns.Lang != "" && !slices.Contains(e.Languages(), ns.Lang) {
		t.Errorf("%s: unknown language %q", where(), ns.Lang)
	}
	if (ns.State == StateReview || slices.Contains(appealSteps, ns.State)) && ns.Draft == nil {
		t.Errorf("%s: now in %q without a draft", where(), ns.State)
	}
	if s.Draft != nil && (isIntake(s.State) || s.Resume != "") && ns.Draft == nil && isIntake(ns.State) {
		t.Errorf("%s: draft lost on the way to %q", where(), ns.State)
	}
	if ns.Resume != "" && !isIntake(ns.Resume) {
		t.Errorf("%s: resumes at %q, not a question of the appeal", where(), ns.Resume)
	}
	if ns.Return != "" && !slices.Contains(known, ns.Return) {
		t.Errorf("%s: returns to unknown state %q", where(), ns.Return)
	}
	if ns.Draft != nil && len([]rune(ns.Draft.Description)) > maxDescription {
		t.Errorf("%s: description of %d characters", where(), len([]rune(ns.Draft.Description)))
	}
	if turn.Submit != nil && turn.Submit.Reference == "" {
		t.Errorf("%s: submitted an appeal without a reference", where())
	}
	for _, fu := range turn.FollowUps {
		if fu.Reference == "" || (fu.Text == "" && fu.File == nil) {
			t.Errorf("%s: empty follow-up %+v", where(), fu)
		}
	}
}

// checkMessage checks what Telegram and the adapter need of one message.
func checkMessage(t *testing.T, where string, i int, m migrantbot.Message, own []string) {
	t.Helper()
	plain, _, err := telegramtest.ParseHTML(m.Text)
	if err != nil {
		t.Fatalf("%s: message %d is not valid Telegram HTML (%v): %q", where, i, err, m.Text)
	}
	if strings.TrimSpace(plain) == "" {
		t.Fatalf("%s: message %d shows nothing: %q", where, i, m.Text)
	}
	if units(plain) > maxShown {
		// The adapter splits it; it can do so cleanly at line breaks.
		for _, line := range strings.Split(plain, "\n") {
			if n := units(line); n > maxShown && !ownLine(line, own) {
				t.Errorf("%s: message %d has a line of %d characters", where, i, n)
			}
		}
	}
	for _, row := range m.Buttons {
		for _, b := range row {
			if len(b.Data) == 0 || len(b.Data) > 64 {
				t.Errorf("%s: button %q has callback data of %d bytes", where, b.Text, len(b.Data))
			}
			if strings.TrimSpace(b.Text) == "" {
				t.Errorf("%s: button with data %q has no text", where, b.Data)
			}
		}
	}
	if m.ContactButton != "" && len(m.Buttons) > 0 {
		t.Errorf("%s: message %d has both a contact keyboard and inline buttons", where, i)
	}
}

// ownLine reports whether line is mostly one line of what the person wrote,
// with at most a short label around it.
func ownLine(line string, own []string) bool {
	for _, o := range own {
		for _, ol := range strings.Split(o, "\n") {
			if units(ol) >= units(line)-200 && strings.Contains(line, ol) {
				return true
			}
		}
	}
	return false
}

// units counts characters as Telegram does, in UTF-16 code units.
func units(s string) int { return len(utf16.Encode([]rune(s))) }
