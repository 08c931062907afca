package flows

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"migrantbot"
)

// languageScreen asks for the language, in the language guessed so far.
func (t *turn) languageScreen() {
	var rows [][]migrantbot.Button
	for _, l := range t.e.cat.Languages {
		label := (&turn{e: t.e, lang: l}).tr("lang_name")
		if l == t.lang {
			label = "✅ " + label
		}
		rows = append(rows, []migrantbot.Button{{Text: label, Data: "l:" + l}})
	}
	t.say(t.tr("lang_prompt"), rows...)
}

// menuScreen shows the main menu; an unfinished appeal is offered to continue.
func (t *turn) menuScreen() {
	appeal := t.button("menu_appeal", "m:appeal")
	text := t.tr("menu_title")
	if t.s.Draft != nil {
		appeal = t.button("menu_continue", "m:appeal")
		text += "\n\n" + t.tr("menu_draft_kept")
	}
	t.sayInPlace(text,
		[]migrantbot.Button{t.button("menu_rights", "m:rights")},
		[]migrantbot.Button{appeal},
		[]migrantbot.Button{t.button("menu_mine", "m:mine")},
		[]migrantbot.Button{t.button("menu_contacts", "m:contacts")},
		[]migrantbot.Button{t.button("menu_language", "m:lang")},
	)
}

// menuItem handles the main menu's buttons. They are navigation and stay valid
// on old messages: pressing one keeps any draft.
func (t *turn) menuItem(item string) error {
	switch item {
	case "menu":
		return t.toMenu()
	case "rights":
		t.s.Cursor = ""
		return t.go_(evRights)
	case "appeal":
		return t.startAppeal("")
	case "mine":
		if err := t.move(evMenu); err != nil {
			return err
		}
		return t.myAppeals(true)
	case "contacts":
		contacts := "<b>" + t.tr("contacts_title") + "</b>\n\n" + t.tr("contacts_body")
		if isIntake(t.s.State) || t.s.State == StateFollowUp {
			// One tap away mid-appeal too: the question follows, the draft stays.
			t.say(contacts)
			return t.repeat()
		}
		if err := t.move(evMenu); err != nil {
			return err
		}
		t.sayInPlace(contacts, []migrantbot.Button{t.button("btn_main_menu", "m:menu")})
		return nil
	case "lang":
		return t.go_(evLanguage)
	}
	if cat, ok := strings.CutPrefix(item, "appeal:"); ok && slices.Contains(migrantbot.Categories, cat) {
		return t.startAppeal(cat)
	}
	return t.stale()
}

// startAppeal begins an appeal, or resumes the kept draft where it stopped.
// category, when set, is the answer to "what happened" chosen in advance by
// "Submit an appeal about this" on an article.
func (t *turn) startAppeal(category string) error {
	if isIntake(t.s.State) {
		return t.repeat()
	}
	if t.s.Draft != nil && t.s.Resume != "" {
		resume := t.s.Resume
		t.s.Resume = ""
		if err := t.move(evResume + resume); err != nil {
			return err
		}
		t.say(t.tr("appeal_resumed"))
		return t.repeat()
	}
	if over, err := t.overDailyLimit(); err != nil || over {
		return err
	}
	t.s.Draft, t.s.Return, t.s.Resume = nil, "", ""
	t.s.Preset = category
	if c := t.s.Consent; c != nil && c.Agreed && c.Version == ConsentVersion {
		// The appeal records the agreement it was made under.
		t.s.Draft = &migrantbot.Appeal{ConsentAt: c.At, ConsentVersion: c.Version}
		if err := t.move(evStartAgreed); err != nil {
			return err
		}
		t.say(t.tr("consent_on_file", data{"Date": c.At.UTC().Format("02.01.2006")}))
		return t.repeat()
	}
	return t.go_(evStartAppeal)
}

// myAppeals lists the person's appeals with their status; each opens its page.
func (t *turn) myAppeals(inPlace bool) error {
	if t.rec == nil {
		return errNoRecords
	}
	list, err := t.rec.AppealsOf(t.s.UserID)
	if err != nil {
		return fmt.Errorf("flows: list appeals: %w", err)
	}
	var b strings.Builder
	b.WriteString("<b>" + t.tr("mine_title") + "</b>\n")
	if len(list) == 0 {
		b.WriteString("\n" + t.tr("mine_none"))
	} else {
		b.WriteString(t.tr("mine_hint") + "\n")
	}
	const shown = 20 // keeps the list to one screen and one message
	var rows [][]migrantbot.Button
	for i, a := range list {
		if i == shown {
			b.WriteString("\n" + t.tr("mine_more", data{"Count": len(list) - shown}))
			break
		}
		fmt.Fprintf(&b, "\n<b>%s</b> · %s\n%s · %s\n", esc(a.Reference), a.SubmittedAt.Format("02.01.2006"),
			t.tr("cat_"+a.Category), t.tr("status_"+string(a.Status)))
		rows = append(rows, []migrantbot.Button{{Text: a.Reference + " · " + t.tr("status_"+string(a.Status)), Data: "v:" + a.Reference}})
	}
	rows = append(rows, []migrantbot.Button{t.button("btn_main_menu", "m:menu")})
	if inPlace {
		t.sayInPlace(b.String(), rows...)
	} else {
		t.say(b.String(), rows...)
	}
	return nil
}

// rights handles the rights information buttons: "" for the categories,
// "c:<category>" for a category's topics, "t:<topic>" for an article. The
// position is in the button, so old buttons keep working.
func (t *turn) rights(arg string) error {
	kind, id, _ := strings.Cut(arg, ":")
	switch {
	case arg == "":
	case kind == "c" && t.category(id) != nil:
	case kind == "t" && t.e.topics[id].category != "":
	default:
		arg = "" // content changed since the button was sent
	}
	t.s.Cursor = arg
	if err := t.move(evRights); err != nil {
		return err
	}
	t.rightsScreen()
	return nil
}

func (t *turn) category(id string) []string {
	for _, c := range t.e.cat.Rights.Categories {
		if c.ID == id {
			ids := make([]string, len(c.Topics))
			for i, tp := range c.Topics {
				ids[i] = tp.ID
			}
			return ids
		}
	}
	return nil
}

// rightsScreen shows the rights information at the session's cursor.
func (t *turn) rightsScreen() {
	menu := t.button("btn_main_menu", "m:menu")
	kind, id, _ := strings.Cut(t.s.Cursor, ":")
	switch kind {
	case "c":
		var rows [][]migrantbot.Button
		for _, tp := range t.category(id) {
			rows = append(rows, []migrantbot.Button{{Text: t.tr("rights_" + tp + "_title"), Data: "r:t:" + tp}})
		}
		rows = append(rows, []migrantbot.Button{t.button("btn_back", "r:"), t.button("btn_contacts", "m:contacts"), menu})
		t.sayInPlace("<b>"+t.tr("rights_cat_"+id)+"</b>\n\n"+t.tr("rights_choose_topic"), rows...)
	case "t":
		ref := t.e.topics[id]
		text := "<b>" + t.tr("rights_"+id+"_title") + "</b>\n\n" + t.tr("rights_"+id+"_body") + "\n\n<i>" +
			t.tr("rights_footer", data{"Source": esc(ref.topic.Source), "Reviewed": esc(ref.topic.Reviewed)}) + "</i>"
		t.sayInPlace(text,
			[]migrantbot.Button{t.button("btn_appeal_about", "m:appeal:"+ref.appeal)},
			[]migrantbot.Button{t.button("btn_contacts", "m:contacts")},
			[]migrantbot.Button{t.button("btn_back", "r:c:"+ref.category), menu})
	default:
		var rows [][]migrantbot.Button
		for _, c := range t.e.cat.Rights.Categories {
			rows = append(rows, []migrantbot.Button{{Text: t.tr("rights_cat_" + c.ID), Data: "r:c:" + c.ID}})
		}
		rows = append(rows, []migrantbot.Button{t.button("btn_contacts", "m:contacts"), menu})
		t.sayInPlace("<b>"+t.tr("rights_title")+"</b>\n\n"+t.tr("rights_choose_category"), rows...)
	}
}

// overDailyLimit tells the person, and reports true, when they have
// submitted maxAppealsPerDay appeals in the last 24 hours. A draft in
// progress is kept: it can be submitted once the day has passed.
func (t *turn) overDailyLimit() (bool, error) {
	if t.rec == nil {
		return false, nil
	}
	list, err := t.rec.AppealsOf(t.s.UserID)
	if err != nil {
		return false, fmt.Errorf("flows: appeals of the person: %w", err)
	}
	n := 0
	var oldest time.Time
	for _, a := range list {
		if t.in.Now.Sub(a.SubmittedAt) < 24*time.Hour {
			n++
			oldest = a.SubmittedAt
		}
	}
	if n < maxAppealsPerDay {
		return false, nil
	}
	hours := int(math.Ceil(oldest.Add(24 * time.Hour).Sub(t.in.Now).Hours()))
	t.say(t.tr("err_appeal_limit", data{"Max": maxAppealsPerDay, "Hours": max(hours, 1)}))
	return true, t.repeat()
}
