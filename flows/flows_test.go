package flows

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"

	"migrantbot"
	"migrantbot/locales"
)

var update = flag.Bool("update", false, "rewrite the golden state diagram")

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fakeRecords stands in for the store's records inside a transaction; the
// store itself is tested against PostgreSQL.
type fakeRecords struct {
	next    int
	appeals []migrantbot.AppealSummary
}

func (f *fakeRecords) NextReference() (string, error) {
	f.next++
	return fmt.Sprintf("AP-2026-%06d", f.next), nil
}

func (f *fakeRecords) AppealsOf(int64) ([]migrantbot.AppealSummary, error) { return f.appeals, nil }

func (f *fakeRecords) DataOf(userID int64) (migrantbot.PersonData, error) {
	d := migrantbot.PersonData{UserID: userID, ChatID: userID, Language: "en", FirstSeen: now.Add(-time.Hour)}
	for _, a := range f.appeals {
		det, err := f.AppealOf(userID, a.Reference)
		if err != nil {
			continue
		}
		d.Appeals = append(d.Appeals, det)
	}
	return d, nil
}

func (f *fakeRecords) AppealOf(userID int64, ref string) (migrantbot.AppealDetail, error) {
	for _, a := range f.appeals {
		if a.Reference == ref && userID == 42 {
			return migrantbot.AppealDetail{
				Appeal: migrantbot.Appeal{Reference: ref, Category: a.Category, Status: a.Status, SubmittedAt: a.SubmittedAt},
				Thread: []migrantbot.ThreadEntry{
					{Kind: migrantbot.EntryStatus, Status: migrantbot.StatusInReview, At: now},
					{Kind: migrantbot.EntryReply, Text: "Please send <the> decision", At: now},
				},
			}, nil
		}
	}
	return migrantbot.AppealDetail{}, migrantbot.Errorf(migrantbot.ENOTFOUND, "no appeal %s", ref)
}

// chat drives one conversation through the engine.
type chat struct {
	tb   testing.TB
	e    *Engine
	s    migrantbot.Session
	rec  *fakeRecords
	last migrantbot.Turn
	all  []migrantbot.Appeal
}

func newEngine(tb testing.TB) *Engine {
	tb.Helper()
	cat, err := locales.Load()
	if err != nil {
		tb.Fatalf("load locales: %v", err)
	}
	e, err := New(cat, Options{})
	if err != nil {
		tb.Fatalf("new engine: %v", err)
	}
	return e
}

func newChat(tb testing.TB, e *Engine) *chat {
	return &chat{tb: tb, e: e, s: migrantbot.Session{ChatID: 42, UserID: 42}, rec: &fakeRecords{}}
}

// send applies one input and checks what every answer must satisfy.
func (c *chat) send(in migrantbot.Input) migrantbot.Turn {
	c.tb.Helper()
	if in.Now.IsZero() {
		in.Now = now
	}
	turn, err := c.e.Step(c.s, in, c.rec)
	if err != nil {
		c.tb.Fatalf("step %+v in state %q: %v", in, c.s.State, err)
	}
	if len(turn.Messages) == 0 {
		c.tb.Fatalf("input %+v in state %q got no answer", in, c.s.State)
	}
	for _, m := range turn.Messages {
		if strings.TrimSpace(m.Text) == "" {
			c.tb.Errorf("empty message in state %q", turn.Session.State)
		}
		for _, row := range m.Buttons {
			for _, b := range row {
				if len(b.Data) == 0 || len(b.Data) > 64 {
					c.tb.Errorf("button %q has callback data %q of %d bytes", b.Text, b.Data, len(b.Data))
				}
				if b.Text == "" {
					c.tb.Errorf("button with data %q has no text", b.Data)
				}
			}
		}
		if m.ContactButton != "" && len(m.Buttons) > 0 {
			c.tb.Errorf("a message cannot carry both a contact keyboard and inline buttons")
		}
	}
	if turn.Submit != nil {
		c.all = append(c.all, *turn.Submit)
	}
	c.s, c.last = turn.Session, turn
	return turn
}

func (c *chat) text(s string) migrantbot.Turn {
	c.tb.Helper()
	return c.send(migrantbot.Input{Kind: migrantbot.InputText, Text: s})
}

func (c *chat) cmd(name string) migrantbot.Turn {
	c.tb.Helper()
	return c.send(migrantbot.Input{Kind: migrantbot.InputCommand, Command: name})
}

// press presses the button with data on the last answer; it must be there.
func (c *chat) press(data string) migrantbot.Turn {
	c.tb.Helper()
	if !hasButton(c.last, data) {
		c.tb.Fatalf("state %q: no button %q on the last answer; have %v", c.s.State, data, buttons(c.last))
	}
	return c.send(migrantbot.Input{Kind: migrantbot.InputButton, Data: data, MessageID: 7})
}

func hasButton(t migrantbot.Turn, data string) bool {
	for _, d := range buttons(t) {
		if d == data {
			return true
		}
	}
	return false
}

func buttons(t migrantbot.Turn) []string {
	var ds []string
	for _, m := range t.Messages {
		for _, row := range m.Buttons {
			for _, b := range row {
				ds = append(ds, b.Data)
			}
		}
	}
	return ds
}

func (c *chat) wantState(want string) {
	c.tb.Helper()
	if c.s.State != want {
		c.tb.Fatalf("state: got %q, want %q", c.s.State, want)
	}
}

// wantSaid checks that the last answer contains the text of a message key.
func (c *chat) wantSaid(key string) {
	c.tb.Helper()
	want := c.msg(key)
	for _, m := range c.last.Messages {
		if strings.Contains(m.Text, want) {
			return
		}
	}
	c.tb.Fatalf("answer does not contain %s (%q); got %q", key, want, texts(c.last))
}

func (c *chat) msg(key string) string {
	c.tb.Helper()
	lang := c.s.Lang
	if lang == "" {
		lang = "en"
	}
	// Template data is a marker, and the comparison stops before the first one.
	const mark = "\x00"
	s, err := i18n.NewLocalizer(c.e.cat.Bundle, lang).Localize(&i18n.LocalizeConfig{MessageID: key,
		TemplateData: map[string]any{"Min": mark, "Max": mark, "Count": mark, "MB": mark, "Phone": mark, "Reference": mark, "Hours": mark, "Date": mark,
			"Appeals": mark, "Files": mark, "Draft": mark, "Version": mark, "DraftDays": mark, "ClosedYears": mark}})
	if err != nil {
		c.tb.Fatalf("message %s: %v", key, err)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	first, _, _ = strings.Cut(first, mark)
	if len(first) > 40 {
		first = first[:40]
	}
	return strings.ToValidUTF8(first, "")
}

func texts(t migrantbot.Turn) []string {
	var s []string
	for _, m := range t.Messages {
		s = append(s, m.Text)
	}
	return s
}

// toMenu brings a new chat to the main menu in English.
func (c *chat) toMenu() {
	c.tb.Helper()
	c.cmd("start")
	c.press("l:en")
	c.wantState(StateMenu)
}

// fillAppeal answers every question from the menu up to the review.
func (c *chat) fillAppeal() {
	c.tb.Helper()
	c.press("m:appeal")
	c.wantState(StateConsent)
	c.press("a:consent:yes")
	steps := []struct {
		do   func()
		want string
	}{
		{func() { c.text("Aliyev") }, StateFirstName},
		{func() { c.text("Rustam") }, StatePatronymic},
		{func() { c.press("a:patronymic:none") }, StateCitizenship},
		{func() { c.press("a:citizenship:c:UZ") }, StateCountry},
		{func() { c.text("Azerbaijan") }, StateCity},
		{func() { c.text("Baku") }, StateAddress},
		{func() { c.text("12 Nizami street, flat 3") }, StateCategory},
		{func() { c.press("a:category:c:labour") }, StateAuthority},
		{func() { c.press("a:authority:skip") }, StateWhen},
		{func() { c.text("01.10.2026") }, StateDescription},
		{func() { c.text("My employer has not paid me for three months.") }, StateDescription},
		{func() { c.press("a:description:continue") }, StateAttachments},
		{func() { c.press("a:attachments:done") }, StatePhone},
		{func() {
			c.send(migrantbot.Input{Kind: migrantbot.InputContact, Phone: "994501234567", OwnContact: true})
		}, StateEmail},
		{func() { c.press("a:email:skip") }, StateReview},
	}
	c.wantState(StateSurname)
	for i, st := range steps {
		st.do()
		if c.s.State != st.want {
			c.tb.Fatalf("step %d: state %q, want %q; said %q", i, c.s.State, st.want, texts(c.last))
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name, code, wantChecked string
	}{
		{"azerbaijani", "az", "l:az"},
		{"russian", "ru-RU", "l:ru"},
		{"uzbek", "uz", "l:uz"},
		{"kazakh reads russian", "kk", "l:ru"},
		{"english", "en-GB", "l:en"},
		{"unknown falls back to english", "ja", "l:en"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newChat(t, e)
			c.send(migrantbot.Input{Kind: migrantbot.InputCommand, Command: "start", LanguageCode: tc.code})
			c.wantState(StateLanguage)
			var checked string
			for _, row := range c.last.Messages[0].Buttons {
				if strings.HasPrefix(row[0].Text, "✅") {
					checked = row[0].Data
				}
			}
			if checked != tc.wantChecked {
				t.Errorf("preselected: got %q, want %q", checked, tc.wantChecked)
			}
		})
	}
	c := newChat(t, e)
	c.cmd("start")
	c.press("l:ru")
	c.wantState(StateMenu)
	if c.s.Lang != "ru" {
		t.Fatalf("lang: got %q, want ru", c.s.Lang)
	}
	c.wantSaid("menu_title")
	c.cmd("language")
	c.wantState(StateLanguage)
	c.press("l:az")
	if c.s.Lang != "az" {
		t.Fatalf("lang: got %q, want az", c.s.Lang)
	}
}

func TestFirstInputOfAnyKindAsksLanguage(t *testing.T) {
	e := newEngine(t)
	for _, in := range []migrantbot.Input{
		{Kind: migrantbot.InputText, Text: "hello"},
		{Kind: migrantbot.InputUnsupported},
		{Kind: migrantbot.InputButton, Data: "a:review:submit"},
		{Kind: migrantbot.InputCommand, Command: "help"},
	} {
		c := newChat(t, e)
		c.send(in)
		c.wantState(StateLanguage)
	}
}

func TestRights(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.press("m:rights")
	c.wantState(StateRights)
	cats := e.cat.Rights.Categories
	if len(cats) < 6 {
		t.Fatalf("got %d rights categories, want at least 6", len(cats))
	}
	for _, cat := range cats {
		if len(cat.Topics) < 2 {
			t.Errorf("category %s has %d topics, want at least 2", cat.ID, len(cat.Topics))
		}
		c.press("r:c:" + cat.ID)
		for _, tp := range cat.Topics {
			c.press("r:t:" + tp.ID)
			c.wantSaid("rights_" + tp.ID + "_title")
			if c.last.Messages[0].EditMessageID != 7 {
				t.Errorf("article %s: not shown in place of the pressed message", tp.ID)
			}
			if !strings.Contains(c.last.Messages[0].Text, tp.Reviewed) {
				t.Errorf("article %s: no review date", tp.ID)
			}
			if !hasButton(c.last, "m:menu") {
				t.Errorf("article %s: no main menu button", tp.ID)
			}
			c.press("r:c:" + cat.ID)
		}
		c.press("r:")
	}
	// An old button of content that no longer exists shows the categories.
	c.send(migrantbot.Input{Kind: migrantbot.InputButton, Data: "r:t:gone"})
	c.wantSaid("rights_choose_category")
	c.text("my boss took my passport")
	c.wantSaid("search_results")
	if !hasButton(c.last, "r:t:wages") {
		t.Errorf("search for a taken passport does not offer the wages topic: %v", buttons(c.last))
	}
	c.text("zzzz qqqq")
	c.wantSaid("search_none")
	c.wantState(StateMenu)
}

func TestCompleteAppeal(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.fillAppeal()
	c.wantSaid("review_title")
	review := c.last.Messages[0].Text
	for _, want := range []string{"Aliyev", "Rustam", "Baku", "12 Nizami street, flat 3", "+994501234567", "2026-10-01", "not paid me"} {
		if !strings.Contains(review, want) {
			t.Errorf("review lacks %q", want)
		}
	}
	c.press("a:review:submit")
	c.wantState(StateMenu)
	if len(c.all) != 1 {
		t.Fatalf("submitted %d appeals, want 1", len(c.all))
	}
	a := c.all[0]
	if a.Reference != "AP-2026-000001" || a.Status != migrantbot.StatusNew || a.Surname != "Aliyev" ||
		a.Citizenship != "UZ" || a.Country != "Azerbaijan" || a.Category != "labour" || a.Phone != "+994501234567" ||
		!a.PhoneShared || a.ConsentVersion != ConsentVersion || a.Language != "en" || a.UserID != 42 {
		t.Errorf("submitted appeal: %+v", a)
	}
	if !strings.Contains(c.last.Messages[0].Text, "AP-2026-000001") {
		t.Errorf("confirmation lacks the reference: %q", c.last.Messages[0].Text)
	}
	if c.s.Draft != nil {
		t.Errorf("draft kept after submit")
	}
	// A second tap on Submit is a stale button and makes no second appeal.
	c.send(migrantbot.Input{Kind: migrantbot.InputButton, Data: "a:review:submit"})
	if len(c.all) != 1 || c.last.Notice == "" {
		t.Errorf("double submit: %d appeals, notice %q", len(c.all), c.last.Notice)
	}
}

func TestConsentDeclinedStoresNothing(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.toMenu()
	c.press("m:appeal")
	c.press("a:consent:no")
	c.wantState(StateMenu)
	c.wantSaid("consent_declined")
	if c.s.Draft != nil || c.last.Submit != nil {
		t.Errorf("declined consent kept data: %+v", c.s.Draft)
	}
}

func TestAnswersAreValidated(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name    string
		state   string
		in      migrantbot.Input
		wantSay string
		want    string // state after
	}{
		{"name with digits", StateSurname, text("R2D2"), "err_name", StateSurname},
		{"name too long", StateSurname, text(strings.Repeat("a", 101)), "err_too_long", StateSurname},
		{"empty text", StateSurname, text("   "), "err_empty", StateSurname},
		{"cyrillic name", StateSurname, text("Алиев"), "q_first_name", StateFirstName},
		{"NUL in an address is dropped", StateAddress, text("ab\x00cdef street"), "q_category", StateCategory},
		{"sticker", StateFirstName, migrantbot.Input{Kind: migrantbot.InputUnsupported}, "err_unsupported", StateFirstName},
		{"edited message", StateFirstName, migrantbot.Input{Kind: migrantbot.InputEdited, Text: "x"}, "err_edited", StateFirstName},
		{"contact where a name is asked", StateFirstName, migrantbot.Input{Kind: migrantbot.InputContact, Phone: "123"}, "err_contact_here", StateFirstName},
		{"typed citizenship", StateCitizenship, text("Bangladesh"), "q_country", StateCountry},
		{"typed category", StateCategory, text("labour"), "err_use_buttons", StateCategory},
		{"short address", StateAddress, text("x"), "err_too_short", StateAddress},
		{"bad date", StateWhen, text("yesterday-ish"), "err_date", StateWhen},
		{"future date", StateWhen, text("01.01.2027"), "err_date_future", StateWhen},
		{"old date", StateWhen, text("2024-05-01"), "note_over_year", StateDescription},
		{"over a year button", StateWhen, button("a:when:c:over_year"), "note_over_year", StateDescription},
		{"text while files asked", StateAttachments, text("here"), "err_file_expected", StateAttachments},
		{"local phone", StatePhone, text("050 123 45 67"), "err_phone", StatePhone},
		{"international phone", StatePhone, text("+994 (50) 123-45-67"), "phone_saved", StateEmail},
		{"phone with 00", StatePhone, text("00994501234567"), "phone_saved", StateEmail},
		{"phone in Persian digits", StatePhone, text("+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹"), "phone_saved", StateEmail},
		{"date in Persian digits", StateWhen, text("۰۵.۱۰.۲۰۲۶"), "desc_saved", StateDescription},
		{"bad email", StateEmail, text("me at home"), "err_email", StateEmail},
		{"email", StateEmail, text("me@example.org"), "review_title", StateReview},
		{"unknown command", StateCity, migrantbot.Input{Kind: migrantbot.InputCommand, Command: "foo"}, "err_unknown_command", StateCity},
		{"help keeps the question", StateCity, migrantbot.Input{Kind: migrantbot.InputCommand, Command: "help"}, "q_city", StateCity},
		{"privacy keeps the question", StateCity, migrantbot.Input{Kind: migrantbot.InputCommand, Command: "privacy"}, "q_city", StateCity},
		{"status keeps the question", StateCity, migrantbot.Input{Kind: migrantbot.InputCommand, Command: "status"}, "mine_none", StateCity},
		{"stale button", StateSurname, button("a:citizenship:c:UZ"), "err_stale", StateSurname},
		{"add a message from an old appeal page mid-appeal", StateSurname, button("v:AP-2026-000007:add"), "err_stale", StateSurname},
		{"appeal from an old menu while choosing a language", StateLanguage, button("m:appeal:labour"), "err_stale", StateLanguage},
		{"made-up button of a menu state", StateMenu, button("a:menu:back"), "err_stale", StateMenu},
		{"group message", StateSurname, migrantbot.Input{Kind: migrantbot.InputText, Text: "hi", Group: true}, "err_group", StateSurname},
		{"short description", StateDescription, button("a:description:continue"), "err_desc_short", StateDescription},
		{"text on review", StateReview, text("ok"), "err_use_buttons", StateReview},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newChat(t, e)
			c.s = migrantbot.Session{ChatID: 42, UserID: 42, Lang: "en", State: tc.state, Draft: fullDraft()}
			if tc.state == StateDescription {
				c.s.Draft.Description = ""
			}
			c.send(tc.in)
			c.wantSaid(tc.wantSay)
			c.wantState(tc.want)
		})
	}
}

func text(s string) migrantbot.Input { return migrantbot.Input{Kind: migrantbot.InputText, Text: s} }

func button(d string) migrantbot.Input {
	return migrantbot.Input{Kind: migrantbot.InputButton, Data: d, MessageID: 3}
}

func fullDraft() *migrantbot.Appeal {
	return &migrantbot.Appeal{Surname: "Aliyev", FirstName: "Rustam", Citizenship: "UZ", Country: "AZ", City: "Baku",
		Address: "12 Nizami street", Category: "labour", When: "this_month",
		Description: "My employer has not paid me for three months.", Phone: "+994501234567", ConsentVersion: ConsentVersion}
}

func TestDescriptionIsJoinedAndNeverCut(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "en", State: StateDescription, Draft: &migrantbot.Appeal{}}
	c.text("First part of the story.")
	c.text("Second part.")
	if got, want := c.s.Draft.Description, "First part of the story.\n\nSecond part."; got != want {
		t.Fatalf("description: got %q, want %q", got, want)
	}
	c.text(strings.Repeat("x", 3990))
	c.wantSaid("err_desc_long")
	if got, want := c.s.Draft.Description, "First part of the story.\n\nSecond part."; got != want {
		t.Fatalf("refused part changed the description: %q", got)
	}
	c.press("a:description:continue")
	c.wantState(StateAttachments)
}

func TestFiles(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "en", State: StateAttachments, Draft: fullDraft()}
	file := func(id, group string, size int64) migrantbot.Input {
		return migrantbot.Input{Kind: migrantbot.InputFile, File: &migrantbot.Attachment{FileID: "f" + id, FileUniqueID: "u" + id, Kind: "photo", Size: size, MediaGroupID: group}}
	}
	c.send(file("1", "", 1000))
	c.wantSaid("file_saved")
	// An album arrives as several updates and is answered once.
	c.send(file("2", "album", 1000))
	for i := 3; i <= 5; i++ {
		turn, err := c.e.Step(c.s, file(fmt.Sprint(i), "album", 1000), c.rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(turn.Messages) != 0 {
			t.Errorf("album item %d answered separately: %q", i, texts(turn))
		}
		c.s = turn.Session
	}
	if n := len(c.s.Draft.Attachments); n != 5 {
		t.Fatalf("got %d files, want 5", n)
	}
	c.send(file("big", "", 30<<20))
	c.wantSaid("err_file_big")
	c.send(file("1", "", 1000))
	c.wantSaid("file_again")
	for i := 6; i <= 10; i++ {
		c.send(file(fmt.Sprint(i), "", 10))
	}
	c.send(file("11", "", 10))
	c.wantSaid("err_file_limit")
	if n := len(c.s.Draft.Attachments); n != 10 {
		t.Fatalf("got %d files, want 10", n)
	}
	// A file sent while another question is open is kept, not lost.
	c2 := newChat(t, c.e)
	c2.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "en", State: StateCity, Draft: &migrantbot.Appeal{}}
	c2.send(file("x", "", 10))
	c2.wantSaid("file_kept")
	c2.wantState(StateCity)
	if len(c2.s.Draft.Attachments) != 1 {
		t.Errorf("early file not kept")
	}
}

func TestCancelAndResume(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.press("m:appeal")
	c.press("a:consent:yes")
	c.text("Aliyev")
	c.wantState(StateFirstName)

	// /menu keeps the draft and offers to continue it.
	c.cmd("menu")
	c.wantState(StateMenu)
	c.wantSaid("menu_draft_kept")
	c.press("m:appeal")
	c.wantState(StateFirstName)
	if c.s.Draft.Surname != "Aliyev" {
		t.Fatalf("draft lost: %+v", c.s.Draft)
	}
	c.cmd("start")
	c.wantState(StateMenu)
	c.press("m:appeal")
	c.wantState(StateFirstName)

	// /cancel asks first; "no" goes back to the same question.
	c.cmd("cancel")
	c.wantState(StateCancelConfirm)
	c.press("a:cancel_confirm:no")
	c.wantState(StateFirstName)
	c.press("a:first_name:cancel")
	c.press("a:cancel_confirm:yes")
	c.wantState(StateMenu)
	if c.s.Draft != nil {
		t.Fatalf("draft kept after cancel")
	}
	c.cmd("cancel")
	c.wantSaid("cancel_nothing")
}

func TestBackAndEdit(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.toMenu()
	c.fillAppeal()
	c.press("a:review:edit:city")
	c.wantState(StateCity)
	c.text("Sumqayit")
	c.wantState(StateReview)
	if c.s.Draft.City != "Sumqayit" {
		t.Errorf("city: got %q", c.s.Draft.City)
	}
	c.press("a:review:edit:description")
	c.text("A completely new description of what happened.")
	c.press("a:description:continue")
	c.wantState(StateReview)
	if c.s.Draft.Description != "A completely new description of what happened." {
		t.Errorf("description not replaced: %q", c.s.Draft.Description)
	}
	c.press("a:review:edit:phone")
	c.press("a:phone:back")
	c.wantState(StateReview)
	c.press("a:review:back")
	c.wantState(StateEmail)
	c.press("a:email:back")
	c.wantState(StatePhone)
}

func TestMyAppeals(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.toMenu()
	c.rec.appeals = []migrantbot.AppealSummary{{Reference: "AP-2026-000007", Category: "labour", Status: migrantbot.StatusInReview, SubmittedAt: now}}
	c.press("m:mine")
	if !strings.Contains(c.last.Messages[0].Text, "AP-2026-000007") || !strings.Contains(c.last.Messages[0].Text, "26.11.2026") {
		t.Errorf("my appeals: %q", c.last.Messages[0].Text)
	}
	c.cmd("status")
	c.wantSaid("mine_title")
}

func TestEveryStateAnswersEveryKindOfInput(t *testing.T) {
	e := newEngine(t)
	states := append([]string{StateLanguage, StateMenu, StateRights, StateConsent, StateReview, StateCancelConfirm, StateFollowUp}, appealSteps...)
	inputs := []migrantbot.Input{
		text("hello"), text(strings.Repeat("long ", 900)), {Kind: migrantbot.InputUnsupported},
		{Kind: migrantbot.InputEdited}, {Kind: migrantbot.InputContact, Phone: "+994501234567"},
		{Kind: migrantbot.InputFile, File: &migrantbot.Attachment{FileID: "f", FileUniqueID: "u", Kind: "document", Size: 5}},
		button("x:unknown"), button("a:nowhere:back"), button("m:nothing"),
		{Kind: migrantbot.InputCommand, Command: "start"}, {Kind: migrantbot.InputCommand, Command: "cancel"},
		{Kind: migrantbot.InputCommand, Command: "whatever"}, {Kind: migrantbot.InputLimited},
	}
	for _, st := range states {
		for _, in := range inputs {
			c := newChat(t, e)
			c.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "ru", State: st, Draft: fullDraft(), Cursor: "AP-2026-000007"}
			c.send(in) // send fails the test when there is no answer
		}
	}
}

func TestAllLanguagesHaveEveryScreen(t *testing.T) {
	e := newEngine(t)
	for _, lang := range e.Languages() {
		c := newChat(t, e)
		c.cmd("start")
		c.press("l:" + lang)
		for _, tr := range texts(c.last) {
			if strings.Contains(tr, "rights_") || strings.Contains(tr, "menu_") {
				t.Errorf("%s: untranslated key in %q", lang, tr)
			}
		}
		for _, cmd := range e.Commands(lang) {
			if cmd.Description == "" || cmd.Description == "cmd_"+cmd.Name {
				t.Errorf("%s: command %s has no description", lang, cmd.Name)
			}
		}
	}
}

func TestStateDiagramIsCurrent(t *testing.T) {
	got, err := newEngine(t).Diagram()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "dialog.mmd")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s (run go test ./flows -update to create it): %v", path, err)
	}
	if got != string(want) {
		t.Errorf("the dialog changed: review the diagram and run go test ./flows -update")
	}
}

func TestLeavingThePhoneQuestionHidesItsKeyboard(t *testing.T) {
	e := newEngine(t)
	for _, in := range []migrantbot.Input{button("a:phone:back"), button("a:phone:cancel"), {Kind: migrantbot.InputCommand, Command: "menu"}} {
		c := newChat(t, e)
		c.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "en", State: StatePhone, Draft: fullDraft()}
		c.send(in)
		removed := false
		for _, m := range c.last.Messages {
			removed = removed || m.RemoveKeyboard
		}
		if !removed {
			t.Errorf("%+v: the contact keyboard stays after leaving the phone question", in)
		}
	}
}

func TestFollowUp(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.rec.appeals = []migrantbot.AppealSummary{{Reference: "AP-2026-000007", Category: "labour", Status: migrantbot.StatusInReview, SubmittedAt: now}}
	c.press("m:mine")
	c.press("v:AP-2026-000007")
	page := c.last.Messages[0].Text
	if !strings.Contains(page, "Please send &lt;the&gt; decision") || !strings.Contains(page, c.msg("thread_office")) {
		t.Errorf("appeal page does not show the office's reply escaped: %q", page)
	}
	c.press("v:AP-2026-000007:add")
	c.wantState(StateFollowUp)
	c.text("Here is the decision you asked for.")
	c.wantSaid("follow_up_saved")
	if len(c.last.FollowUps) != 1 || c.last.FollowUps[0].Reference != "AP-2026-000007" || c.last.FollowUps[0].Text != "Here is the decision you asked for." {
		t.Fatalf("follow-ups: %+v", c.last.FollowUps)
	}
	// An album is added whole but answered once.
	photo := func(id string) migrantbot.Input {
		return migrantbot.Input{Kind: migrantbot.InputFile, File: &migrantbot.Attachment{FileID: id, FileUniqueID: id, Kind: "photo", Size: 10, MediaGroupID: "g"}}
	}
	c.send(photo("p1"))
	turn, err := e.Step(c.s, photo("p2"), c.rec)
	if err != nil || len(turn.FollowUps) != 1 || len(turn.Messages) != 0 {
		t.Fatalf("second album photo: %v, %d follow-ups, %d messages", err, len(turn.FollowUps), len(turn.Messages))
	}
	c.s = turn.Session
	c.send(migrantbot.Input{Kind: migrantbot.InputUnsupported})
	c.wantSaid("err_unsupported")
	c.press("v:AP-2026-000007")
	c.wantState(StateMenu)
	// Someone else's appeal, or one that does not exist, is a stale button.
	c.send(button("v:AP-2026-999999:add"))
	c.wantSaid("err_stale")
	c.wantState(StateMenu)
}

func TestNotifications(t *testing.T) {
	e := newEngine(t)
	for _, lang := range e.Languages() {
		m := e.StatusChanged(lang, "AP-2026-000001", migrantbot.StatusRejected, "Not <our> mandate")
		if !strings.Contains(m.Text, "AP-2026-000001") || !strings.Contains(m.Text, "Not &lt;our&gt; mandate") || len(m.Buttons) != 1 {
			t.Errorf("%s: status message %q", lang, m.Text)
		}
		r := e.Reply(lang, "AP-2026-000001", "Call us & bring <papers>")
		if !strings.Contains(r.Text, "Call us &amp; bring &lt;papers&gt;") || r.Buttons[0][0].Data != "v:AP-2026-000001:add" {
			t.Errorf("%s: reply %q %v", lang, r.Text, r.Buttons)
		}
	}
}

func TestStaffGroupIsToldOfNewAppeals(t *testing.T) {
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cat, Options{StaffChatID: -1001, ConsoleURL: "https://console.example.org/"})
	if err != nil {
		t.Fatal(err)
	}
	c := newChat(t, e)
	c.toMenu()
	c.fillAppeal()
	c.press("a:review:submit")
	if len(c.last.Others) != 1 || c.last.Others[0].ChatID != -1001 {
		t.Fatalf("announcements: %+v", c.last.Others)
	}
	text := c.last.Others[0].Message.Text
	if !strings.Contains(text, "AP-2026-000001") || !strings.Contains(text, "https://console.example.org/appeals/AP-2026-000001") {
		t.Errorf("announcement: %q", text)
	}
	for _, personal := range []string{"Aliyev", "Rustam", "994501234567", "Nizami", "not paid"} {
		if strings.Contains(text, personal) {
			t.Errorf("announcement shows personal data %q: %q", personal, text)
		}
	}
}

func TestAppealAboutAnArticle(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.toMenu()
	c.press("m:rights")
	c.press("r:c:work")
	c.press("r:t:wages")
	c.press("m:appeal:labour")
	c.press("a:consent:yes")
	c.text("Aliyev")
	c.text("Rustam")
	c.press("a:patronymic:none")
	c.press("a:citizenship:c:UZ")
	c.press("a:country:c:AZ")
	c.text("Baku")
	c.text("12 Nizami street")
	// The category was chosen on the article: the next question is the body.
	c.wantState(StateAuthority)
	if c.s.Draft.Category != "labour" {
		t.Errorf("category: got %q, want labour", c.s.Draft.Category)
	}
}

func TestContactsMidAppealKeepTheQuestion(t *testing.T) {
	c := newChat(t, newEngine(t))
	c.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "en", State: StateCity, Draft: fullDraft()}
	c.send(button("m:contacts"))
	c.wantState(StateCity)
	c.wantSaid("contacts_title")
	c.wantSaid("q_city")
}
