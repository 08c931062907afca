package flows

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"migrantbot"
)

// answer handles text, a file or a contact sent while an appeal is being filled in.
func (t *turn) answer() error {
	st := t.s.State
	switch t.in.Kind {
	case migrantbot.InputUnsupported:
		t.say(t.tr("err_unsupported"))
		return t.repeat()
	case migrantbot.InputFile:
		return t.file()
	case migrantbot.InputContact:
		if st == StatePhone {
			return t.phone(t.in.Phone, true)
		}
		t.say(t.tr("err_contact_here"))
		return t.repeat()
	}
	switch st {
	case StateConsent, StateCategory, StateReview, StateCancelConfirm:
		t.say(t.tr("err_use_buttons"))
		return t.repeat()
	case StateAttachments:
		t.say(t.tr("err_file_expected"))
		return t.repeat()
	}
	d := t.s.Draft
	if d == nil {
		return errNoDraft(st)
	}
	text := strings.TrimSpace(t.in.Text)
	if text == "" {
		t.say(t.tr("err_empty"))
		return t.repeat()
	}
	if st == StateDescription {
		return t.description(text)
	}
	if st == StatePhone {
		return t.phone(digits.Replace(text), false)
	}
	if st == StateWhen {
		return t.when(digits.Replace(text))
	}
	if st == StateEmail {
		addr, err := mail.ParseAddress(text)
		if err != nil || addr.Address != text || !strings.Contains(text[strings.LastIndex(text, "@"):], ".") || len(text) > 254 {
			t.say(t.tr("err_email"))
			return t.repeat()
		}
		d.Email = text
		return t.advance()
	}
	limit := map[string]int{
		StateSurname: maxName, StateFirstName: maxName, StatePatronymic: maxName,
		StateCitizenship: maxPlace, StateCountry: maxPlace, StateCity: maxPlace,
		StateAddress: maxAddress, StateAuthority: maxAuthority,
	}[st]
	if n := utf8.RuneCountInString(text); n > limit {
		t.say(t.tr("err_too_long", data{"Max": limit, "Count": n}))
		return t.repeat()
	}
	text = strings.Join(strings.Fields(text), " ")
	switch st {
	case StateSurname, StateFirstName, StatePatronymic, StateCitizenship, StateCountry, StateCity:
		if !plausibleName(text) {
			t.say(t.tr("err_name"))
			return t.repeat()
		}
	case StateAddress:
		if utf8.RuneCountInString(text) < 3 {
			t.say(t.tr("err_too_short", data{"Min": 3}))
			return t.repeat()
		}
	}
	switch st {
	case StateSurname:
		d.Surname = text
	case StateFirstName:
		d.FirstName = text
	case StatePatronymic:
		d.Patronymic = text
	case StateCitizenship:
		d.Citizenship = text
	case StateCountry:
		d.Country = text
	case StateCity:
		d.City = text
	case StateAddress:
		d.Address = text
	case StateAuthority:
		d.Authority = text
	}
	return t.advance()
}

func errNoDraft(state string) error {
	return migrantbot.Errorf(migrantbot.EINTERNAL, "flows: state %q without a draft", state)
}

// plausibleName accepts letters in any script with spaces, hyphens,
// apostrophes and dots, and refuses digits and symbols.
func plausibleName(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.Is(unicode.Mn, r):
			letters++
		case r == ' ' || r == '-' || r == '\'' || r == '’' || r == '.' || r == ',' || r == '(' || r == ')':
		default:
			return false
		}
	}
	return letters > 0
}

// description joins the messages of a description sent in several parts.
func (t *turn) description(text string) error {
	d := t.s.Draft
	if t.s.Replace {
		t.s.Replace = false
		d.Description = ""
	}
	joined := text
	if d.Description != "" {
		joined = d.Description + "\n\n" + text
	}
	if n := utf8.RuneCountInString(joined); n > maxDescription {
		// Nothing is cut silently: the part is refused whole, what was saved stays.
		t.say(t.tr("err_desc_long", data{"Max": maxDescription, "Count": utf8.RuneCountInString(d.Description)}))
		return t.repeat()
	}
	d.Description = joined
	return t.repeat()
}

// digits turns Persian and Arabic-Indic digits into ASCII ones, as phones
// with a Persian keyboard type them.
var digits = strings.NewReplacer(
	"۰", "0", "۱", "1", "۲", "2", "۳", "3", "۴", "4", "۵", "5", "۶", "6", "۷", "7", "۸", "8", "۹", "9",
	"٠", "0", "١", "1", "٢", "2", "٣", "3", "٤", "4", "٥", "5", "٦", "6", "٧", "7", "٨", "8", "٩", "9",
)

// dateLayouts are the ways people write a date.
var dateLayouts = []string{"2.1.2006", "2/1/2006", "2-1-2006", "2006-01-02", "2006-1-2"}

// when takes a typed date of what happened.
func (t *turn) when(text string) error {
	var day time.Time
	var err error
	for _, l := range dateLayouts {
		if day, err = time.Parse(l, text); err == nil {
			break
		}
	}
	now := t.in.Now
	if err != nil || day.Year() < 1900 {
		t.say(t.tr("err_date"))
		return t.repeat()
	}
	if day.After(now) {
		t.say(t.tr("err_date_future"))
		return t.repeat()
	}
	d := t.s.Draft
	d.When = day.Format("2006-01-02")
	d.OverOneYear = day.Before(now.AddDate(-1, 0, 0))
	if d.OverOneYear {
		t.say(t.tr("note_over_year"))
	}
	return t.advance()
}

// phone takes a typed phone number in international format, or a shared contact.
func (t *turn) phone(raw string, shared bool) error {
	p := strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -().\u00a0", r) {
			return -1
		}
		return r
	}, raw)
	if strings.HasPrefix(p, "00") {
		p = "+" + p[2:]
	}
	if shared && !strings.HasPrefix(p, "+") {
		p = "+" + p // Telegram sends shared numbers without the plus
	}
	digits := strings.TrimPrefix(p, "+")
	valid := strings.HasPrefix(p, "+") && len(digits) >= 8 && len(digits) <= 15 && digits[0] != '0'
	for _, r := range digits {
		valid = valid && r >= '0' && r <= '9'
	}
	if !valid {
		t.say(t.tr("err_phone"))
		return t.repeat()
	}
	t.s.Draft.Phone, t.s.Draft.PhoneShared = p, shared
	// The contact keyboard is taken away before the next question.
	t.out = append(t.out, migrantbot.Message{Text: t.tr("phone_saved", data{"Phone": esc(p)}), RemoveKeyboard: true})
	return t.advance()
}

// file keeps a photo or document. Files sent before their question are kept
// too, so nothing a person sent is lost; an album is answered once.
func (t *turn) file() error {
	st := t.s.State
	d := t.s.Draft
	if d == nil || st == StateConsent || st == StateReview || st == StateCancelConfirm {
		t.say(t.tr("err_use_buttons"))
		return t.repeat()
	}
	f := *t.in.File
	album := f.MediaGroupID != "" && f.MediaGroupID == t.s.Batch
	t.s.Batch = f.MediaGroupID
	switch {
	case f.Size > maxFileSize:
		t.say(t.tr("err_file_big", data{"MB": maxFileSize >> 20}))
		return t.repeat()
	case len(d.Attachments) >= maxFiles:
		if album {
			return nil
		}
		t.say(t.tr("err_file_limit", data{"Max": maxFiles}))
		return t.repeat()
	}
	for _, a := range d.Attachments {
		if a.FileUniqueID == f.FileUniqueID {
			t.say(t.tr("file_again"))
			return t.repeat()
		}
	}
	if f.Caption == "" {
		f.Caption = t.in.Text
	}
	d.Attachments = append(d.Attachments, f)
	if album {
		return nil
	}
	if st == StateAttachments {
		t.say(t.tr("file_saved", data{"Count": len(d.Attachments), "Max": maxFiles}),
			[]migrantbot.Button{t.button("btn_done", "a:attachments:done")}, t.backCancel())
		return nil
	}
	t.say(t.tr("file_kept"))
	return t.repeat()
}

// closeContactKeyboard hides the share-phone keyboard when the person leaves
// the phone question another way than answering it (Back, Cancel, /menu).
func (t *turn) closeContactKeyboard() {
	for _, m := range t.out {
		if m.RemoveKeyboard {
			return
		}
	}
	for i, m := range t.out {
		if len(m.Buttons) == 0 && m.ContactButton == "" {
			t.out[i].RemoveKeyboard = true
			return
		}
	}
	// Every message carries inline buttons, which cannot share a message with
	// the removal: a short note carries it.
	t.out = append([]migrantbot.Message{{Text: t.tr("keyboard_closed"), RemoveKeyboard: true}}, t.out...)
}
