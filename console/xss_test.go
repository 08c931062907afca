package console

import (
	"net/url"
	"strings"
	"testing"

	"migrantbot"
)

// TestMigrantTextIsEscaped files an appeal whose every free-text answer is
// hostile or unusual, and checks that each page shows it as text.
func TestMigrantTextIsEscaped(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn(t, "xss@example.org", migrantbot.RoleAdmin)
	const (
		script = `<script>alert(1)</script>`
		img    = `"><img src=x onerror=alert(1)>`
		rtl    = "سلام دوست من"
		emoji  = "🙏🏽 👨‍👩‍👧 ✊🏾"
	)
	ref := e.submit(t, migrantbot.Appeal{
		Surname: script, FirstName: img, Patronymic: rtl, City: emoji, Address: img + rtl,
		Citizenship: script, Country: img, Authority: script, When: img,
		Description: script + "\n" + img + "\n" + rtl + " " + emoji,
		Email:       img, Phone: script,
		Attachments: []migrantbot.Attachment{
			{FileID: "f1", FileUniqueID: "u1", Kind: "photo", Caption: script},
			{FileID: "f2", FileUniqueID: "u2", Kind: "document", FileName: img + ".pdf", Caption: img},
		},
	})
	d := e.detail(t, ref)
	if _, err := e.store.Apply(t.Context(), migrantbot.Update{ID: 77001, ChatID: d.Appeal.ChatID, UserID: d.Appeal.UserID},
		func(s migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			return migrantbot.Turn{Session: s, FollowUps: []migrantbot.FollowUp{
				{Reference: ref, Text: script + rtl},
				{Reference: ref, File: &migrantbot.Attachment{FileID: "f3", FileUniqueID: "u3", Kind: "document", FileName: script, Caption: img}},
			}}, nil
		}); err != nil {
		t.Fatalf("follow-ups: %v", err)
	}
	// Staff text goes through the same templates.
	b.get("/appeals/" + ref)
	b.post("/appeals/"+ref+"/notes", url.Values{"text": {img}})
	b.post("/appeals/"+ref+"/referrals", url.Values{"partner": {"ngo"}, "name": {script}, "date": {"2026-03-03"}, "note": {img}})

	pages := map[string]string{
		"appeal": b.get("/appeals/" + ref).body,
		"list":   b.get("/appeals").body,
		"search": b.get("/appeals?q=" + url.QueryEscape(script)).body,
		"stats":  b.get("/stats").body,
		"audit":  b.get("/audit?target=" + url.QueryEscape(img)).body,
	}
	for name, body := range pages {
		for _, raw := range []string{"<script>", "<img src=x", "onerror=alert(1)>"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s page contains %q unescaped", name, raw)
			}
		}
	}
	appeal := pages["appeal"]
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
		rtl, emoji,
	} {
		if !strings.Contains(appeal, want) {
			t.Errorf("appeal page lacks %q", want)
		}
	}
	if !strings.Contains(pages["list"], "&lt;script&gt;") || !strings.Contains(pages["list"], "<bdi>") {
		t.Errorf("list does not show the hostile surname escaped inside <bdi>")
	}
	// Nothing a person wrote reaches the logs.
	logs := e.logs.String()
	for _, secret := range []string{"alert(1)", rtl, "🙏"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain the person's text %q", secret)
		}
	}
}
