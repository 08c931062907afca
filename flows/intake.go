package flows

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"migrantbot"
)

// Countries offered as buttons; anything else is typed.
var (
	citizenshipChoices = []string{"AZ", "RU", "UZ", "KG", "TJ", "TR", "GE", "IR", "UA", "KZ", "IN", "PK"}
	residenceChoices   = []string{"AZ", "RU", "TR", "GE", "KZ", "UA", "DE", "AE", "GB"}
	whenChoices        = []string{migrantbot.WhenThisMonth, migrantbot.WhenLastYear, migrantbot.WhenOverYear}
)

// countryCodes are the countries that have a localized name (country_<code>).
func countryCodes() []string {
	codes := slices.Clone(citizenshipChoices)
	for _, c := range residenceChoices {
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	return codes
}

// backCancel is the row of Back and Cancel buttons on every question.
func (t *turn) backCancel() []migrantbot.Button {
	st := t.s.State
	return []migrantbot.Button{t.button("btn_back", "a:"+st+":back"), t.button("btn_cancel", "a:"+st+":cancel"), t.button("btn_contacts", "m:contacts")}
}

// choices lays out buttons for values, n per row, with data "a:<state>:c:<value>".
func (t *turn) choices(values []string, label func(string) string, perRow int) [][]migrantbot.Button {
	var rows [][]migrantbot.Button
	for i, v := range values {
		if i%perRow == 0 {
			rows = append(rows, nil)
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], migrantbot.Button{Text: label(v), Data: "a:" + t.s.State + ":c:" + v})
	}
	return rows
}

func (t *turn) countryName(code string) string {
	if slices.Contains(countryCodes(), code) {
		return t.tr("country_" + code)
	}
	return esc(code)
}

// question shows the current question of the appeal.
func (t *turn) question() {
	d := t.s.Draft
	bc := t.backCancel()
	switch t.s.State {
	case StateConsent:
		t.say(t.tr("consent_text"),
			[]migrantbot.Button{t.button("btn_agree", "a:consent:yes")},
			[]migrantbot.Button{t.button("btn_decline", "a:consent:no")})
	case StateSurname:
		t.say(t.tr("q_surname"), bc)
	case StateFirstName:
		t.say(t.tr("q_first_name"), bc)
	case StatePatronymic:
		t.say(t.tr("q_patronymic"), []migrantbot.Button{t.button("btn_none", "a:patronymic:none")}, bc)
	case StateCitizenship:
		t.say(t.tr("q_citizenship"), append(t.choices(citizenshipChoices, t.countryName, 3), bc)...)
	case StateCountry:
		t.say(t.tr("q_country"), append(t.choices(residenceChoices, t.countryName, 3), bc)...)
	case StateCity:
		t.say(t.tr("q_city"), bc)
	case StateAddress:
		t.say(t.tr("q_address"), bc)
	case StateCategory:
		t.say(t.tr("q_category"), append(t.choices(migrantbot.Categories, func(c string) string { return t.tr("cat_" + c) }, 1), bc)...)
	case StateAuthority:
		t.say(t.tr("q_authority"), []migrantbot.Button{t.button("btn_skip", "a:authority:skip")}, bc)
	case StateWhen:
		t.say(t.tr("q_when"), append(t.choices(whenChoices, func(w string) string { return t.tr("when_" + w) }, 1), bc)...)
	case StateDescription:
		switch {
		case t.s.Replace:
			t.say(t.tr("q_description_replace", data{"Min": minDescription, "Max": maxDescription}), bc)
		case d != nil && d.Description != "":
			t.say(t.tr("desc_saved", data{"Count": utf8.RuneCountInString(d.Description), "Max": maxDescription}),
				[]migrantbot.Button{t.button("btn_continue", "a:description:continue")}, bc)
		default:
			t.say(t.tr("q_description", data{"Min": minDescription, "Max": maxDescription}), bc)
		}
	case StateAttachments:
		t.say(t.tr("q_attachments", data{"Max": maxFiles, "Count": len(d.Attachments)}),
			[]migrantbot.Button{t.button("btn_done", "a:attachments:done")}, bc)
	case StatePhone:
		t.out = append(t.out, migrantbot.Message{Text: t.tr("q_phone"), ContactButton: t.tr("btn_share_phone")})
		t.say(t.tr("q_phone_hint"), bc)
	case StateEmail:
		t.say(t.tr("q_email"), []migrantbot.Button{t.button("btn_skip", "a:email:skip")}, bc)
	case StateReview:
		t.review()
	case StateCancelConfirm:
		t.say(t.tr("cancel_confirm"),
			[]migrantbot.Button{t.button("btn_discard", "a:cancel_confirm:yes")},
			[]migrantbot.Button{t.button("btn_keep", "a:cancel_confirm:no")})
	}
}

// review shows every answer with a button to edit each.
func (t *turn) review() {
	d := t.s.Draft
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return esc(s)
	}
	when := d.When
	if slices.Contains(whenChoices, when) {
		when = t.tr("when_" + when)
	} else {
		when = esc(when)
	}
	var b strings.Builder
	b.WriteString("<b>" + t.tr("review_title") + "</b>\n\n")
	line := func(label, value string) { fmt.Fprintf(&b, "<b>%s:</b> %s\n", t.tr(label), value) }
	line("field_surname", esc(d.Surname))
	line("field_first_name", esc(d.FirstName))
	line("field_patronymic", dash(d.Patronymic))
	line("field_citizenship", t.countryName(d.Citizenship))
	line("field_country", t.countryName(d.Country))
	line("field_city", esc(d.City))
	line("field_address", esc(d.Address))
	line("field_category", t.tr("cat_"+d.Category))
	line("field_authority", dash(d.Authority))
	line("field_when", when)
	line("field_attachments", fmt.Sprint(len(d.Attachments)))
	line("field_phone", esc(d.Phone))
	line("field_email", dash(d.Email))
	line("field_description", "\n"+esc(d.Description))
	var rows [][]migrantbot.Button
	for i, st := range appealSteps {
		if i%2 == 0 {
			rows = append(rows, nil)
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], t.button("edit_"+st, "a:review:edit:"+st))
	}
	rows = append(rows,
		[]migrantbot.Button{t.button("btn_submit", "a:review:submit")},
		[]migrantbot.Button{t.button("btn_back", "a:review:back"), t.button("btn_cancel", "a:review:cancel")})
	t.say(strings.TrimRight(b.String(), "\n")+"\n\n"+t.tr("review_hint"), rows...)
}

// advance goes to the next question, or back to the review after an edit. A
// category chosen in advance on an article is not asked again.
func (t *turn) advance() error {
	if t.s.Return == StateReview {
		t.s.Return = ""
		return t.go_(evEdited)
	}
	if err := t.move(evNext); err != nil {
		return err
	}
	if t.s.State == StateCategory && slices.Contains(migrantbot.Categories, t.s.Preset) {
		t.s.Draft.Category, t.s.Preset = t.s.Preset, ""
		if err := t.move(evNext); err != nil {
			return err
		}
	}
	return t.repeat()
}

// intakeButton handles a button of the current appeal question.
func (t *turn) intakeButton(action string) error {
	st := t.s.State
	if t.s.Draft == nil && st != StateConsent && st != StateCancelConfirm {
		return fmt.Errorf("flows: state %q without a draft", st)
	}
	verb, value, _ := strings.Cut(action, ":")
	switch {
	case verb == "back":
		if t.s.Return == StateReview && st != StateReview {
			t.s.Return = ""
			return t.go_(evEdited)
		}
		t.s.Replace = false
		return t.go_(evBack)
	case verb == "cancel":
		t.s.Return = st
		return t.go_(evCancel)
	}
	d := t.s.Draft
	switch st {
	case StateConsent:
		if verb == "yes" {
			t.answerNotice(true)
			t.s.Draft = &migrantbot.Appeal{ConsentAt: t.in.Now, ConsentVersion: ConsentVersion}
			return t.go_(evAgree)
		}
		if verb == "no" {
			t.answerNotice(false)
			t.s.Draft = nil
			t.say(t.tr("consent_declined"))
			return t.go_(evDecline)
		}
	case StatePatronymic:
		if verb == "none" {
			d.Patronymic = ""
			return t.advance()
		}
	case StateCitizenship, StateCountry:
		if verb == "c" && slices.Contains(countryCodes(), value) {
			if st == StateCitizenship {
				d.Citizenship = value
			} else {
				d.Country = value
			}
			return t.advance()
		}
	case StateCategory:
		if verb == "c" && slices.Contains(migrantbot.Categories, value) {
			d.Category = value
			return t.advance()
		}
	case StateAuthority, StateEmail:
		if verb == "skip" {
			if st == StateAuthority {
				d.Authority = ""
			} else {
				d.Email = ""
			}
			return t.advance()
		}
	case StateWhen:
		if verb == "c" && slices.Contains(whenChoices, value) {
			d.When, d.OverOneYear = value, value == migrantbot.WhenOverYear
			if d.OverOneYear {
				t.say(t.tr("note_over_year"))
			}
			return t.advance()
		}
	case StateDescription:
		if verb == "continue" {
			if n := utf8.RuneCountInString(d.Description); n < minDescription {
				t.say(t.tr("err_desc_short", data{"Min": minDescription, "Count": n}))
				return t.repeat()
			}
			return t.advance()
		}
	case StateAttachments:
		if verb == "done" {
			return t.advance()
		}
	case StateReview:
		if verb == "submit" {
			return t.submitDraft()
		}
		if verb == "edit" && slices.Contains(appealSteps, value) {
			t.s.Return = StateReview
			t.s.Replace = value == StateDescription
			return t.go_(evEdit + value)
		}
	case StateCancelConfirm:
		if verb == "yes" {
			t.s.Draft, t.s.Return, t.s.Resume, t.s.Replace = nil, "", "", false
			t.say(t.tr("cancel_done"))
			return t.go_(evDiscard)
		}
		if verb == "no" {
			back := t.s.Return
			t.s.Return = ""
			if back == "" {
				return t.toMenu()
			}
			return t.go_(evResume + back)
		}
	}
	return t.stale()
}

// missing returns the first question whose required answer is absent.
func missing(d *migrantbot.Appeal) string {
	switch {
	case d.Surname == "":
		return StateSurname
	case d.FirstName == "":
		return StateFirstName
	case d.Citizenship == "":
		return StateCitizenship
	case d.Country == "":
		return StateCountry
	case d.City == "":
		return StateCity
	case d.Address == "":
		return StateAddress
	case d.Category == "":
		return StateCategory
	case d.When == "":
		return StateWhen
	case utf8.RuneCountInString(d.Description) < minDescription:
		return StateDescription
	case d.Phone == "":
		return StatePhone
	}
	return ""
}

// submitDraft saves the appeal with a new reference and tells the person.
func (t *turn) submitDraft() error {
	if st := missing(t.s.Draft); st != "" {
		t.s.Return = StateReview
		t.say(t.tr("err_incomplete"))
		return t.go_(evEdit + st)
	}
	if t.rec == nil {
		return errNoRecords
	}
	if over, err := t.overDailyLimit(); err != nil || over {
		return err
	}
	ref, err := t.rec.NextReference()
	if err != nil {
		return fmt.Errorf("flows: reserve reference: %w", err)
	}
	a := *t.s.Draft
	a.Reference, a.Status = ref, migrantbot.StatusNew
	a.UserID, a.ChatID, a.Language, a.SubmittedAt = t.s.UserID, t.s.ChatID, t.lang, t.in.Now
	t.submit = &a
	t.s.Draft, t.s.Return, t.s.Resume, t.s.Replace, t.s.Batch = nil, "", "", false, ""
	if err := t.move(evSubmit); err != nil {
		return err
	}
	if t.e.opt.StaffChatID != 0 {
		t.others = append(t.others, migrantbot.Outgoing{ChatID: t.e.opt.StaffChatID, Message: t.e.announce(a)})
	}
	t.notice = t.tr("submitted_notice")
	t.say(t.tr("submitted", data{"Reference": esc(ref)}))
	t.menuScreen()
	return nil
}

// announce renders the staff group's note of a new appeal: no personal
// details, only what lets staff find and triage it.
func (e *Engine) announce(a migrantbot.Appeal) migrantbot.Message {
	t := &turn{e: e, lang: e.opt.StaffLang}
	text := t.tr("staff_new_appeal", data{"Reference": esc(a.Reference), "Category": t.tr("cat_" + a.Category),
		"Country": t.countryName(a.Country), "Language": esc(a.Language)})
	if e.opt.ConsoleURL != "" {
		link := strings.TrimRight(e.opt.ConsoleURL, "/") + "/appeals/" + a.Reference
		text += "\n" + `<a href="` + esc(link) + `">` + esc(link) + "</a>"
	}
	return migrantbot.Message{Text: text}
}
