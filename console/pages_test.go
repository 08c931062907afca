package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"migrantbot"
)

func TestStats(t *testing.T) {
	e := newEnv(t)
	b, me := e.loggedIn(t, "stats@example.org", migrantbot.RoleReviewer)
	ref := e.submit(t, migrantbot.Appeal{Category: "trafficking", Citizenship: "TJ", Country: "Kuwait"})
	e.submit(t, migrantbot.Appeal{Category: "labour", Citizenship: "UZ", Country: "AZ"})
	if err := e.store.Reply(t.Context(), me, ref, "We are on it.", migrantbot.Message{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/stats")
	wantStatus(t, "GET /stats", r, http.StatusOK)
	if n := strings.Count(r.body, "<svg"); n != 5 {
		t.Errorf("charts: got %d <svg>, want 5", n)
	}
	for _, want := range []string{`<rect class="bar"`, "Trafficking or forced labour", "Tajikistan", "Kuwait", "New", "over 1 answered appeal"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("stats page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<script") || strings.Contains(r.body, "style=") {
		t.Errorf("stats page uses script or inline style (the CSP forbids both)")
	}

	// Plural forms of the median's note in Russian.
	if err := e.store.SetStaffLang(t.Context(), me.ID, "ru"); err != nil {
		t.Fatal(err)
	}
	if r := b.get("/stats"); !strings.Contains(r.body, "по 1 обращению с ответом") {
		t.Errorf("Russian stats page lacks the singular form")
	}
}

func TestFiles(t *testing.T) {
	e := newEnv(t)
	jpeg := []byte("\xff\xd8\xff\xe0 not really a jpeg")
	e.files.files["photo-id"] = memFile{data: jpeg, typ: "image/jpeg"}
	e.files.files["doc-id"] = memFile{data: []byte("%PDF-1.4"), typ: "application/pdf"}
	e.files.files["svg-id"] = memFile{data: []byte("<svg onload=alert(1)>"), typ: "image/svg+xml"}
	e.files.files["later-id"] = memFile{data: []byte("later"), typ: "image/png"}
	ref := e.submit(t, migrantbot.Appeal{Attachments: []migrantbot.Attachment{
		{FileID: "photo-id", FileUniqueID: "p", Kind: "photo", Size: int64(len(jpeg)), Caption: "my contract"},
		{FileID: "doc-id", FileUniqueID: "d", Kind: "document", FileName: "../../müqavilə.pdf", MimeType: "application/pdf"},
		{FileID: "svg-id", FileUniqueID: "s", Kind: "document", FileName: "x.svg", MimeType: "image/svg+xml"},
		{FileID: "gone-id", FileUniqueID: "g", Kind: "photo"},
	}})
	d := e.detail(t, ref)
	if _, err := e.store.Apply(t.Context(), migrantbot.Update{ID: 88001, ChatID: d.Appeal.ChatID, UserID: d.Appeal.UserID},
		func(s migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			return migrantbot.Turn{Session: s, FollowUps: []migrantbot.FollowUp{{Reference: ref,
				File: &migrantbot.Attachment{FileID: "later-id", FileUniqueID: "l", Kind: "photo"}}}}, nil
		}); err != nil {
		t.Fatal(err)
	}
	b, me := e.loggedIn(t, "files@example.org", migrantbot.RoleReviewer)
	page := b.get("/appeals/" + ref)
	base := "/appeals/" + ref
	if !strings.Contains(page.body, `<img src="`+base+`/files/0"`) {
		t.Errorf("appeal page does not show the photo inline")
	}
	if !strings.Contains(page.body, `href="`+base+`/files/1" download`) {
		t.Errorf("appeal page does not link the document for download")
	}
	if strings.Contains(page.body, "photo-id") || strings.Contains(page.body, "doc-id") {
		t.Errorf("appeal page shows Telegram file ids")
	}
	var entryID int64
	for _, en := range e.detail(t, ref).Thread {
		if en.Attachment != nil {
			entryID = en.ID
		}
	}

	tests := []struct {
		name, path      string
		wantStatus      int
		wantType        string
		wantDisposition string
		wantBody        string
	}{
		{"photo inline", base + "/files/0", http.StatusOK, "image/jpeg", "inline", string(jpeg)},
		{"document download", base + "/files/1", http.StatusOK, "application/pdf", `attachment; filename*=utf-8''m%C3%BCqavil%C9%99.pdf`, "%PDF-1.4"},
		{"svg is never inline", base + "/files/2", http.StatusOK, "image/svg+xml", "attachment; filename=x.svg", ""},
		{"a file Telegram lost", base + "/files/3", http.StatusBadGateway, "", "", ""},
		{"no such position", base + "/files/4", http.StatusNotFound, "", "", ""},
		{"not a number", base + "/files/x", http.StatusNotFound, "", "", ""},
		{"file added later", base + "/entries/" + itoa(entryID) + "/file", http.StatusOK, "image/png", "inline", "later"},
		{"no such entry", base + "/entries/999999/file", http.StatusNotFound, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.get(tc.path)
			wantStatus(t, "GET "+tc.path, r, tc.wantStatus)
			if tc.wantStatus != http.StatusOK {
				return
			}
			if got := r.header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type: got %q, want %q", got, tc.wantType)
			}
			if got := r.header.Get("Content-Disposition"); got != tc.wantDisposition {
				t.Errorf("Content-Disposition: got %q, want %q", got, tc.wantDisposition)
			}
			if !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("file served without a sandbox CSP")
			}
			if tc.wantBody != "" && r.body != tc.wantBody {
				t.Errorf("body: got %q, want %q", r.body, tc.wantBody)
			}
		})
	}
	// Every file served is audited: downloads and inline photos alike.
	if n := e.auditCount(t, me.Email, "appeal.file", ref); n != 4 {
		t.Errorf("appeal.file audit entries: got %d, want 4", n)
	}

	t.Run("no file source", func(t *testing.T) {
		off := newEnv(t, func(d *Deps) { d.Files = nil })
		ref := off.submit(t, migrantbot.Appeal{Attachments: []migrantbot.Attachment{{FileID: "f", FileUniqueID: "f", Kind: "photo"}}})
		b, _ := off.loggedIn(t, "nofiles@example.org", migrantbot.RoleReviewer)
		page := b.get("/appeals/" + ref)
		if !strings.Contains(page.body, "Files cannot be shown") || strings.Contains(page.body, "<img") {
			t.Errorf("appeal page without a file source does not say so, or still shows <img>")
		}
		wantStatus(t, "GET the file", b.get("/appeals/"+ref+"/files/0"), http.StatusServiceUnavailable)
	})
}

func TestStaffAdmin(t *testing.T) {
	e := newEnv(t)
	admin, me := e.loggedIn(t, "boss@example.org", migrantbot.RoleAdmin)
	r := admin.get("/staff")
	wantStatus(t, "GET /staff", r, http.StatusOK)
	if !strings.Contains(r.body, "boss@example.org") {
		t.Errorf("staff list lacks the admin")
	}

	r = admin.post("/staff", url.Values{"email": {"New.Person@Example.org"}, "role": {"reviewer"}})
	wantStatus(t, "POST /staff", r, http.StatusOK)
	m := passwordShown.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("the one-time password is not shown")
	}
	password := m[1]
	if again := admin.get("/staff"); strings.Contains(again.body, password) {
		t.Errorf("the one-time password is shown a second time")
	}
	if n := e.auditCount(t, me.Email, "staff.add", "new.person@example.org"); n != 1 {
		t.Errorf("staff.add audit entries: got %d, want 1", n)
	}

	tests := []struct {
		name, email, role string
		wantStatus        int
		wantText          string
	}{
		{"existing email", "NEW.person@example.org", "admin", http.StatusConflict, "exists already"},
		{"bad email", "not an email", "admin", http.StatusUnprocessableEntity, "valid email"},
		{"bad role", "x@example.org", "root", http.StatusUnprocessableEntity, "choose a role"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.post("/staff", url.Values{"email": {tc.email}, "role": {tc.role}})
			wantStatus(t, "POST /staff", r, tc.wantStatus)
			if !strings.Contains(r.body, tc.wantText) {
				t.Errorf("page lacks %q", tc.wantText)
			}
		})
	}

	// The new account logs in with the one-time password and must change it.
	person := e.browser(t)
	wantRedirect(t, "first login", person.login("new.person@example.org", password), "/password")
	created, _, err := e.store.StaffByEmail(t.Context(), "new.person@example.org")
	if err != nil {
		t.Fatal(err)
	}

	// Disabling ends its sessions and refuses its logins.
	admin.get("/staff")
	wantRedirect(t, "disable", admin.post("/staff/"+itoa(created.ID)+"/disable", nil), "/staff")
	wantRedirect(t, "GET with the disabled account's session", person.get("/password"), "/login")
	wantStatus(t, "login of a disabled account", e.browser(t).login("new.person@example.org", password), http.StatusForbidden)
	if n := e.auditCount(t, me.Email, "staff.disable", "new.person@example.org"); n != 1 {
		t.Errorf("staff.disable audit entries: got %d, want 1", n)
	}
	wantRedirect(t, "enable", admin.post("/staff/"+itoa(created.ID)+"/enable", nil), "/staff")
	wantRedirect(t, "login after enabling", e.browser(t).login("new.person@example.org", password), "/password")

	// An admin cannot lock themself out.
	r = admin.post("/staff/"+itoa(me.ID)+"/disable", nil)
	wantRedirect(t, "disable self", r, "/staff")
	if s, _ := e.store.StaffByID(t.Context(), me.ID); s.Disabled {
		t.Errorf("the admin disabled their own account")
	}
	wantStatus(t, "disable an unknown account", admin.post("/staff/999999/disable", nil), http.StatusNotFound)
}

func TestAuditPage(t *testing.T) {
	e := newEnv(t)
	admin, me := e.loggedIn(t, "auditor@example.org", migrantbot.RoleAdmin)
	ref := e.submit(t, migrantbot.Appeal{Surname: "Audited"})
	admin.get("/appeals/" + ref)
	r := admin.get("/audit?action=appeal.view&target=" + ref)
	wantStatus(t, "GET /audit", r, http.StatusOK)
	if !strings.Contains(r.body, "<code>appeal.view</code>") || !strings.Contains(r.body, me.Email) {
		t.Errorf("audit page lacks the view of %s", ref)
	}
	if strings.Contains(r.body, "<code>login</code>") {
		t.Errorf("audit filter by action shows other actions")
	}
}

func TestLanguageChoice(t *testing.T) {
	e := newEnv(t)
	b, me := e.loggedIn(t, "dil@example.org", migrantbot.RoleReviewer)
	tests := []struct {
		lang string
		want []string
	}{
		{"az", []string{`<html lang="az">`, "Müraciətlər", "Çıxış", "Statusa görə"}},
		{"ru", []string{`<html lang="ru">`, "Обращения", "Выйти", "По статусу"}},
		{"en", []string{`<html lang="en">`, "Appeals", "Log out", "By status"}},
	}
	for _, tc := range tests {
		t.Run(tc.lang, func(t *testing.T) {
			b.get("/appeals")
			wantRedirect(t, "POST /lang", b.post("/lang", url.Values{"lang": {tc.lang}, "back": {"/appeals?status=new"}}), "/appeals?status=new")
			r := b.get("/appeals")
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("page in %s lacks %q", tc.lang, w)
				}
			}
			s, err := e.store.StaffByID(t.Context(), me.ID)
			if err != nil {
				t.Fatal(err)
			}
			if s.Lang != tc.lang {
				t.Errorf("saved language: got %q, want %q", s.Lang, tc.lang)
			}
		})
	}
	wantStatus(t, "unknown language", b.post("/lang", url.Values{"lang": {"xx"}}), http.StatusBadRequest)
	// Before login, the login page follows ?lang and the browser.
	anon := e.browser(t)
	if r := anon.get("/login?lang=az"); !strings.Contains(r.body, "Daxil ol") {
		t.Errorf("login page with ?lang=az is not in Azerbaijani")
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/login", nil)
	req.Header.Set("Accept-Language", "ru-RU,ru;q=0.9")
	if r := anon.do(req); !strings.Contains(r.body, "Войти") {
		t.Errorf("login page for a Russian browser is not in Russian")
	}
}

var passwordShown = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

func TestContentPage(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn(t, "content@example.org", migrantbot.RoleReviewer)
	r := b.get("/content")
	wantStatus(t, "GET /content", r, http.StatusOK)
	for _, want := range []string{"Azərbaycanca", "Русский", "Written by the project team", "https://migration.gov.az/en/oyq", "2026-11-26"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("content page lacks %q", want)
		}
	}
}

func TestSearchIsAuditedAndLoginStaysOnSite(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn(t, "searcher@example.org", migrantbot.RoleReviewer)
	r := b.get("/appeals?q=Mammadov")
	wantStatus(t, "GET /appeals?q=", r, http.StatusOK)
	if n := e.auditCount(t, "searcher@example.org", "appeals.search", "appeals"); n != 1 {
		t.Errorf("searches audited: got %d, want 1", n)
	}
	// The audit log is plain and append-only: it says a search was made,
	// not for whom; the start of a reference is kept.
	b.get("/appeals?q=AP-2026-0000&status=new")
	entries, err := e.store.ListAudit(t.Context(), "searcher@example.org", "appeals.search", "appeals", 10)
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for _, en := range entries {
		details = append(details, en.Detail)
	}
	all := strings.Join(details, "\n")
	if strings.Contains(all, "Mammadov") || !strings.Contains(all, "1+words") || !strings.Contains(all, "AP-2026-0000") {
		t.Errorf("audited searches: %q", details)
	}
	for _, next := range []string{"/%09/evil.example", "/\\evil.example", "//evil.example", "https://evil.example"} {
		if got := localPath(mustUnescape(t, next)); got != "/appeals" {
			t.Errorf("next %q: got %q, want /appeals", next, got)
		}
	}
	if got := localPath("/appeals/AP-2026-000001"); got != "/appeals/AP-2026-000001" {
		t.Errorf("a local path was refused: %q", got)
	}
}

func mustUnescape(tb testing.TB, s string) string {
	tb.Helper()
	u, err := url.PathUnescape(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestReadyz(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ready error
		want  int
	}{{"ready", nil, http.StatusOK}, {"database down", errors.New("ping: connection refused"), http.StatusServiceUnavailable}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(d *Deps) { d.Ready = func(context.Context) error { return tc.ready } })
			b := e.browser(t)
			wantStatus(t, "GET /readyz", b.get("/readyz"), tc.want)
		})
	}
}
