package flows

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"migrantbot"
)

// TestPrivacyNoticeIsVersioned fails when the texts of the privacy notice
// change in any language while ConsentVersion stays: a person's agreement
// is to one version of the notice, and a new text must ask everyone again.
func TestPrivacyNoticeIsVersioned(t *testing.T) {
	e := newEngine(t)
	var b strings.Builder
	fmt.Fprintf(&b, "version %s\n", ConsentVersion)
	for _, lang := range e.cat.Languages {
		msgs, err := e.cat.Messages("active." + lang + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(msgs["privacy_text"] + "\x00" + msgs["consent_text"]))
		fmt.Fprintf(&b, "%s %x\n", lang, sum[:8])
	}
	path := filepath.Join("testdata", "privacy.sum")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -update)", err)
	}
	if got := b.String(); got != string(want) {
		oldVersion, _, _ := strings.Cut(string(want), "\n")
		if oldVersion == "version "+ConsentVersion {
			t.Fatalf("the privacy notice changed but ConsentVersion is still %s: give it a new version, so that people are asked again, and run go test ./flows -update\nwas:\n%s\nnow:\n%s", ConsentVersion, want, got)
		}
		t.Fatalf("ConsentVersion changed: run go test ./flows -update")
	}
}

func TestPrivacyCommand(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.cmd("privacy")
	c.wantSaid("privacy_text")
	if !strings.Contains(c.last.Messages[0].Text, ConsentVersion) {
		t.Errorf("the notice does not name its version: %q", c.last.Messages[0].Text)
	}
	for _, want := range []string{"30 days", "5 years", "/mydata", "/forgetme", "Ombudsman"} {
		if !strings.Contains(c.last.Messages[0].Text, want) {
			t.Errorf("the notice does not say %q", want)
		}
	}
	for _, b := range []string{"p:mydata", "p:forget", "m:menu"} {
		if !hasButton(c.last, b) {
			t.Errorf("no button %s on the notice", b)
		}
	}
	// Mid-appeal, the notice is followed by the question again.
	c.press("m:menu")
	c.fillAppealTo(StateCity)
	c.cmd("privacy")
	c.wantState(StateCity)
	if n := len(c.last.Messages); n != 2 {
		t.Fatalf("%d messages after /privacy mid-appeal, want the notice and the question", n)
	}
}

// fillAppealTo starts an appeal and answers until state.
func (c *chat) fillAppealTo(state string) {
	c.tb.Helper()
	c.press("m:appeal")
	if c.s.State == StateConsent {
		c.press("a:consent:yes")
	}
	answers := map[string]func(){
		StateSurname:     func() { c.text("Aliyev") },
		StateFirstName:   func() { c.text("Rustam") },
		StatePatronymic:  func() { c.press("a:patronymic:none") },
		StateCitizenship: func() { c.press("a:citizenship:c:UZ") },
		StateCountry:     func() { c.text("Azerbaijan") },
	}
	for c.s.State != state {
		f, ok := answers[c.s.State]
		if !ok {
			c.tb.Fatalf("no answer for %s on the way to %s", c.s.State, state)
		}
		f()
	}
}

func TestConsentIsAskedOncePerVersion(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.press("m:appeal")
	c.wantState(StateConsent)
	c.press("a:consent:yes")
	if got := c.last.Consent; got == nil || !got.Agreed || got.Version != ConsentVersion || !got.At.Equal(now) {
		t.Fatalf("the turn does not carry the agreement for the store: %+v", got)
	}
	c.cmd("cancel")
	c.press("a:cancel_confirm:yes")
	c.wantState(StateMenu)

	// The same version: not asked again, and the appeal records when the
	// person agreed.
	later := now.Add(48 * time.Hour)
	c.send(migrantbot.Input{Kind: migrantbot.InputButton, Data: "m:appeal", MessageID: 7, Now: later})
	c.wantState(StateSurname)
	c.wantSaid("consent_on_file")
	if c.last.Consent != nil {
		t.Errorf("no new answer was given, yet the turn carries one")
	}
	if d := c.s.Draft; d == nil || !d.ConsentAt.Equal(now) || d.ConsentVersion != ConsentVersion {
		t.Fatalf("the draft does not record the agreement: %+v", d)
	}

	// A new version of the notice asks again.
	c.cmd("cancel")
	c.press("a:cancel_confirm:yes")
	c.s.Consent.Version = "an older version"
	c.press("m:appeal")
	c.wantState(StateConsent)

	// Declining is kept too.
	c.press("a:consent:no")
	if got := c.last.Consent; got == nil || got.Agreed {
		t.Fatalf("declining was not recorded: %+v", got)
	}
	c.press("m:appeal")
	c.wantState(StateConsent)
}

func TestMyData(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.rec.appeals = []migrantbot.AppealSummary{{Reference: "AP-2026-000007", Category: "labour", Status: migrantbot.StatusInReview, SubmittedAt: now}}
	c.toMenu()
	c.fillAppealTo(StateCountry) // a draft in progress
	c.cmd("mydata")
	c.wantState(StateCountry)
	var doc *migrantbot.Document
	for _, m := range c.last.Messages {
		if m.Document != nil {
			doc = m.Document
			if n := len([]rune(m.Text)); n == 0 || n > 1024 {
				t.Errorf("the file's caption has %d characters", n)
			}
		}
	}
	if doc == nil {
		t.Fatalf("no file sent; said %q", texts(c.last))
	}
	if !strings.HasSuffix(doc.FileName, ".json") {
		t.Errorf("file name %q", doc.FileName)
	}
	var got struct {
		Person struct {
			TelegramUserID int64 `json:"telegram_user_id"`
		} `json:"person"`
		Draft   *struct{ Surname string } `json:"draft"`
		Appeals []struct {
			Reference string
			Messages  []struct{ Kind, Text string }
		} `json:"appeals"`
		Consent *migrantbot.Consent `json:"privacy_notice_answer"`
	}
	if err := json.Unmarshal(doc.Data, &got); err != nil {
		t.Fatalf("the file is not JSON: %v", err)
	}
	if got.Person.TelegramUserID != 42 || got.Draft == nil || got.Draft.Surname != "Aliyev" ||
		len(got.Appeals) != 1 || got.Appeals[0].Reference != "AP-2026-000007" || got.Consent == nil {
		t.Errorf("the file misses data: %s", doc.Data)
	}
	if len(got.Appeals) == 1 && (len(got.Appeals[0].Messages) != 2 || got.Appeals[0].Messages[1].Text != "Please send <the> decision") {
		t.Errorf("the appeal's messages are not in the file: %+v", got.Appeals[0].Messages)
	}
	c.wantSaid("mydata_summary")
}

func TestForgetMe(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.fillAppealTo(StateCity)
	c.cmd("forgetme")
	c.wantSaid("forget_confirm")
	if c.last.Forget {
		t.Fatal("erased before the person confirmed")
	}
	c.press("p:forget:no")
	c.wantSaid("forget_kept")
	c.wantState(StateCity)
	if c.s.Draft == nil {
		t.Fatal("the draft was lost after No")
	}

	c.cmd("forgetme")
	yes := "p:forget:yes:" + strconv.FormatInt(now.Unix(), 10)
	// A Yes from a confirmation older than a quarter of an hour asks again.
	c.send(migrantbot.Input{Kind: migrantbot.InputButton, Data: yes, MessageID: 7, Now: now.Add(time.Hour)})
	if c.last.Forget || !hasButton(c.last, "p:forget:yes:"+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)) {
		t.Fatalf("a Yes an hour old erased, or was not asked again; said %q", texts(c.last))
	}
	c.cmd("forgetme")
	c.press(yes)
	if !c.last.Forget {
		t.Fatal("the turn does not ask the store to erase")
	}
	c.wantState(StateMenu)
	c.wantSaid("forget_done")
	if c.s.Draft != nil || c.s.Consent != nil || c.s.Resume != "" || c.s.Lang != "en" || c.s.ChatID != 42 {
		t.Fatalf("the session keeps personal data or lost its language: %+v", c.s)
	}
	// Consent is asked again after erasure.
	c.press("m:appeal")
	c.wantState(StateConsent)
}
