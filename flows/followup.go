package flows

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"migrantbot"
)

// maxThreadShown keeps an appeal's page to one screen on a phone.
const maxThreadShown = 8

// appealButton handles "v:<reference>" (open the person's appeal) and
// "v:<reference>:add" (add a message to it). The reference is in the button,
// so these work from old messages and from the office's notifications.
func (t *turn) appealButton(arg string) error {
	ref, action, _ := strings.Cut(arg, ":")
	if t.rec == nil {
		return errNoRecords
	}
	d, err := t.rec.AppealOf(t.s.UserID, ref)
	if migrantbot.ErrorCode(err) == migrantbot.ENOTFOUND {
		return t.stale()
	}
	if err != nil {
		return fmt.Errorf("flows: open appeal: %w", err)
	}
	if action == "add" {
		t.s.Cursor = ref
		if err := t.move(evFollowUp); err != nil {
			return err
		}
		t.followUpQuestion()
		return nil
	}
	if t.s.State != StateMenu && t.s.State != StateRights {
		t.s.Cursor = ""
		if err := t.move(evMenu); err != nil {
			return err
		}
	}
	t.appealPage(d)
	return nil
}

// appealPage shows one of the person's appeals: its status and what happened since.
func (t *turn) appealPage(d migrantbot.AppealDetail) {
	a := d.Appeal
	var b strings.Builder
	fmt.Fprintf(&b, "<b>%s</b>\n%s · %s\n%s: <b>%s</b>\n", esc(a.Reference), a.SubmittedAt.Format("02.01.2006"),
		t.tr("cat_"+a.Category), t.tr("field_status"), t.tr("status_"+string(a.Status)))
	entries := d.Thread
	if n := len(entries) - maxThreadShown; n > 0 {
		fmt.Fprintf(&b, "\n%s\n", t.tr("thread_earlier", data{"Count": n}))
		entries = entries[n:]
	}
	for _, e := range entries {
		at := e.At.Format("02.01.2006 15:04")
		switch e.Kind {
		case migrantbot.EntryStatus:
			fmt.Fprintf(&b, "\n%s · %s", at, t.tr("status_"+string(e.Status)))
			if e.Text != "" {
				fmt.Fprintf(&b, "\n%s", esc(e.Text))
			}
		case migrantbot.EntryReply:
			fmt.Fprintf(&b, "\n%s · <b>%s</b>\n%s", at, t.tr("thread_office"), esc(e.Text))
		case migrantbot.EntryMigrant:
			text := esc(e.Text)
			if e.Attachment != nil && text == "" {
				text = "📎"
			}
			fmt.Fprintf(&b, "\n%s · <b>%s</b>\n%s", at, t.tr("thread_you"), text)
		default:
			continue
		}
		b.WriteString("\n")
	}
	t.sayInPlace(b.String(),
		[]migrantbot.Button{t.button("btn_add_message", "v:"+a.Reference+":add")},
		[]migrantbot.Button{t.button("menu_mine", "m:mine"), t.button("btn_main_menu", "m:menu")})
}

// followUpQuestion asks for the message to add to the appeal in the cursor.
func (t *turn) followUpQuestion() {
	t.say(t.tr("q_follow_up", data{"Reference": esc(t.s.Cursor), "Max": maxDescription}),
		[]migrantbot.Button{t.button("btn_back", "v:"+t.s.Cursor)})
}

// followUp takes a message or a file for a submitted appeal.
func (t *turn) followUp() error {
	ref := t.s.Cursor
	in := t.in
	f := migrantbot.FollowUp{Reference: ref}
	switch in.Kind {
	case migrantbot.InputText:
		text := strings.TrimSpace(in.Text)
		switch n := utf8.RuneCountInString(text); {
		case n == 0:
			t.say(t.tr("err_empty"))
			return t.repeat()
		case n > maxDescription:
			t.say(t.tr("err_too_long", data{"Max": maxDescription, "Count": n}))
			return t.repeat()
		}
		f.Text = text
	case migrantbot.InputFile:
		file := *in.File
		if file.Size > maxFileSize {
			t.say(t.tr("err_file_big", data{"MB": maxFileSize >> 20}))
			return t.repeat()
		}
		if file.Caption == "" {
			file.Caption = in.Text
		}
		f.File, f.Text = &file, file.Caption
		// The rest of an album arrives in the same state and is added silently.
		if file.MediaGroupID != "" && file.MediaGroupID == t.s.Batch {
			t.followUps(f)
			return nil
		}
		t.s.Batch = file.MediaGroupID
	case migrantbot.InputContact:
		t.say(t.tr("err_contact_here"))
		return t.repeat()
	default:
		t.say(t.tr("err_unsupported"))
		return t.repeat()
	}
	t.followUps(f)
	// The person stays here, so more messages and files can follow.
	t.say(t.tr("follow_up_saved", data{"Reference": esc(ref)}),
		[]migrantbot.Button{t.button("btn_done", "v:"+ref)})
	return nil
}

func (t *turn) followUps(f migrantbot.FollowUp) {
	t.followups = append(t.followups, f)
}

// StatusChanged renders the message telling a person that their appeal's
// status changed; reason is shown when the appeal was rejected.
func (e *Engine) StatusChanged(lang, reference string, status migrantbot.Status, reason string) migrantbot.Message {
	t := &turn{e: e, lang: lang}
	text := t.tr("notify_status", data{"Reference": esc(reference), "Status": t.tr("status_" + string(status))})
	if reason != "" {
		text += "\n" + t.tr("notify_reason", data{"Reason": esc(reason)})
	}
	return migrantbot.Message{Text: text, Buttons: [][]migrantbot.Button{{t.button("btn_open_appeal", "v:"+reference)}}}
}

// Reply renders a reply of the office's staff to a person.
func (e *Engine) Reply(lang, reference, text string) migrantbot.Message {
	t := &turn{e: e, lang: lang}
	return migrantbot.Message{
		Text:    t.tr("notify_reply", data{"Reference": esc(reference)}) + "\n\n" + esc(text),
		Buttons: [][]migrantbot.Button{{t.button("btn_write_back", "v:"+reference+":add")}},
	}
}
