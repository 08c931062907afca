package flows

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"migrantbot"
)

// The privacy notice (the privacy_text and consent_text messages) is
// versioned: ConsentVersion names the texts in every language, and
// testdata/privacy.sum holds their digests, so that a test fails when the
// texts change without a new version. A person who agreed to the current
// version is not asked again; a new version asks everyone again.
const ConsentVersion = "2026-11-26.2"

// Default retention periods told in the privacy notice; cmd passes the
// configured ones in Options.
const (
	defaultDraftDays  = 30
	defaultClosedDays = 5 * 365
)

// privacyNotice shows the notice with the buttons for the person's rights.
func (t *turn) privacyNotice() {
	t.say(t.tr("privacy_text", data{
		"Version":     ConsentVersion,
		"DraftDays":   t.e.opt.RetentionDraftDays,
		"ClosedYears": max(t.e.opt.RetentionClosedDays/365, 1),
	}),
		[]migrantbot.Button{t.button("btn_mydata", "p:mydata")},
		[]migrantbot.Button{t.button("btn_forget", "p:forget")},
		[]migrantbot.Button{t.button("btn_main_menu", "m:menu")})
}

// forgetConfirmFor is how long the Yes of an erasure confirmation stays
// good: erasure cannot be undone, so a Yes found days later in the chat's
// history asks again rather than erases.
const forgetConfirmFor = 15 * time.Minute

// privacyButton handles the buttons of the privacy notice and of the
// erasure confirmation. They act on the person, not on the dialog's step,
// so they work from any earlier message.
func (t *turn) privacyButton(action string) error {
	if asked, ok := strings.CutPrefix(action, "forget:yes:"); ok {
		at, err := strconv.ParseInt(asked, 10, 64)
		if err != nil || t.in.Now.Sub(time.Unix(at, 0)) > forgetConfirmFor {
			t.notice = t.tr("stale_notice")
			t.askForget()
			return nil
		}
		return t.forget()
	}
	switch action {
	case "mydata":
		return t.myData()
	case "forget":
		t.askForget()
		return nil
	case "forget:no":
		t.say(t.tr("forget_kept"))
		return t.repeat()
	}
	return t.stale()
}

// askForget asks before erasing: erasure cannot be undone.
func (t *turn) askForget() {
	t.say(t.tr("forget_confirm"),
		[]migrantbot.Button{t.button("btn_forget_yes", "p:forget:yes:"+strconv.FormatInt(t.in.Now.Unix(), 10))},
		[]migrantbot.Button{t.button("btn_forget_no", "p:forget:no")})
}

// forget erases the person's data: the store removes their details from
// every appeal and tells staff on the open ones; the session starts afresh
// in the same language.
func (t *turn) forget() error {
	t.forgetAll = true
	t.s = migrantbot.Session{ChatID: t.s.ChatID, UserID: t.s.UserID, Lang: t.s.Lang, State: t.s.State, Version: t.s.Version}
	if err := t.move(evMenu); err != nil {
		return err
	}
	t.notice = t.tr("forget_done_notice")
	t.say(t.tr("forget_done"))
	t.menuScreen()
	return nil
}

// myData sends everything stored about the person as a JSON file, with a
// short summary they can read without opening it.
func (t *turn) myData() error {
	if t.rec == nil {
		return errNoRecords
	}
	d, err := t.rec.DataOf(t.s.UserID)
	if err != nil {
		return fmt.Errorf("flows: data of the person: %w", err)
	}
	// The draft lives in the session, which the step holds already.
	d.Draft = t.s.Draft
	if d.Consent == nil {
		d.Consent = t.s.Consent
	}
	file, err := json.MarshalIndent(exportOf(d, t.in.Now), "", "  ")
	if err != nil {
		return fmt.Errorf("flows: encode the person's data: %w", err)
	}
	files := 0
	for _, a := range d.Appeals {
		files += len(a.Appeal.Attachments)
	}
	draft := t.tr("mydata_no_draft")
	if d.Draft != nil {
		draft = t.tr("mydata_draft")
	}
	var rows [][]migrantbot.Button
	resume := isIntake(t.s.State) || t.s.State == StateFollowUp
	if !resume {
		// Elsewhere the summary is the last screen: it offers the way on.
		rows = append(rows, []migrantbot.Button{t.button("btn_main_menu", "m:menu")})
	}
	t.say(t.tr("mydata_summary", data{"Appeals": len(d.Appeals), "Files": files, "Draft": draft}), rows...)
	t.out = append(t.out, migrantbot.Message{
		Text:     t.tr("mydata_caption"),
		Document: &migrantbot.Document{FileName: "my-data-" + t.in.Now.UTC().Format("2006-01-02") + ".json", Data: file},
	})
	if resume {
		return t.repeat()
	}
	return nil
}

// export is the file /mydata sends: plain field names a person (or
// someone helping them) can read, and nothing of the office's internal
// work (notes, staff names, delivery errors).
type export struct {
	Generated time.Time            `json:"generated"`
	Office    string               `json:"controller"`
	Person    exportPerson         `json:"person"`
	Consent   *migrantbot.Consent  `json:"privacy_notice_answer,omitempty"`
	Draft     *migrantbot.Appeal   `json:"draft,omitempty"`
	Appeals   []exportAppealRecord `json:"appeals"`
}

type exportPerson struct {
	TelegramUserID int64     `json:"telegram_user_id"`
	TelegramChatID int64     `json:"telegram_chat_id"`
	Language       string    `json:"language"`
	FirstSeen      time.Time `json:"first_seen,omitzero"`
}

// exportAppealRecord is an appeal with its answers under the names the
// appeal itself uses, and its history.
type exportAppealRecord struct {
	migrantbot.Appeal
	Messages  []exportEntry    `json:"messages"`
	Referrals []exportReferral `json:"referrals,omitempty"`
}

type exportEntry struct {
	At     time.Time              `json:"at"`
	Kind   string                 `json:"kind"`
	Text   string                 `json:"text,omitempty"`
	Status string                 `json:"status,omitempty"`
	File   *migrantbot.Attachment `json:"file,omitempty"`
}

type exportReferral struct {
	Partner string `json:"partner"`
	Name    string `json:"name,omitempty"`
	On      string `json:"on"`
}

func exportOf(d migrantbot.PersonData, now time.Time) export {
	e := export{
		Generated: now.UTC(),
		Office:    "Office of the Commissioner for Human Rights (Ombudsman) of the Republic of Azerbaijan",
		Person:    exportPerson{TelegramUserID: d.UserID, TelegramChatID: d.ChatID, Language: d.Language, FirstSeen: d.FirstSeen},
		Consent:   d.Consent,
		Appeals:   []exportAppealRecord{},
	}
	e.Draft = d.Draft
	for _, det := range d.Appeals {
		r := exportAppealRecord{Appeal: det.Appeal, Messages: []exportEntry{}}
		for _, te := range det.Thread {
			r.Messages = append(r.Messages, exportEntry{At: te.At, Kind: te.Kind, Text: te.Text, Status: string(te.Status), File: te.Attachment})
		}
		for _, ref := range det.Referrals {
			r.Referrals = append(r.Referrals, exportReferral{Partner: ref.Partner, Name: ref.Name, On: ref.Date.Format("2006-01-02")})
		}
		e.Appeals = append(e.Appeals, r)
	}
	return e
}

// answerNotice keeps the person's answer to the current privacy notice, in
// the session and, through the turn, with the person in the store.
func (t *turn) answerNotice(agreed bool) {
	c := &migrantbot.Consent{Version: ConsentVersion, At: t.in.Now, Agreed: agreed}
	t.s.Consent, t.consent = c, c
}
