package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"migrantbot"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	const password = "a long enough password"
	e.addStaff(t, "ok@example.org", migrantbot.RoleReviewer, password, false)
	off := e.addStaff(t, "off@example.org", migrantbot.RoleReviewer, password, false)
	if err := e.store.SetStaffDisabled(t.Context(), off.ID, true); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		email      string
		password   string
		wantStatus int
		wantText   string // a phrase of the page
		wantTo     string // where a 303 goes
	}{
		{"success", "ok@example.org", password, http.StatusSeeOther, "", "/appeals"},
		{"email in another case", "  OK@Example.org ", password, http.StatusSeeOther, "", "/appeals"},
		{"wrong password", "ok@example.org", "not the password", http.StatusUnauthorized, "The email or the password is wrong.", ""},
		{"unknown account", "nobody@example.org", password, http.StatusUnauthorized, "The email or the password is wrong.", ""},
		{"disabled account", "off@example.org", password, http.StatusForbidden, "This account is disabled.", ""},
		{"empty form", "", "", http.StatusUnauthorized, "The email or the password is wrong.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser(t)
			r := b.login(tc.email, tc.password)
			wantStatus(t, "POST /login", r, tc.wantStatus)
			if tc.wantTo != "" && r.location != tc.wantTo {
				t.Errorf("location: got %q, want %q", r.location, tc.wantTo)
			}
			if !strings.Contains(r.body, tc.wantText) {
				t.Errorf("page lacks %q", tc.wantText)
			}
			after := b.get("/appeals")
			if tc.wantStatus == http.StatusSeeOther {
				wantStatus(t, "GET /appeals after login", after, http.StatusOK)
			} else {
				wantRedirect(t, "GET /appeals after a failed login", after, "/login")
			}
		})
	}
	if n := e.auditCount(t, "ok@example.org", "login", ""); n != 2 {
		t.Errorf("audit login entries: got %d, want 2", n)
	}
	if n := e.auditCount(t, "", "login.failed", "ok@example.org"); n != 1 {
		t.Errorf("audit login.failed entries: got %d, want 1", n)
	}
	s, err := e.store.StaffByID(t.Context(), off.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastLoginAt.IsZero() {
		t.Errorf("a disabled account's LastLoginAt was set: %v", s.LastLoginAt)
	}
}

func TestLoginCookie(t *testing.T) {
	tests := []struct {
		name   string
		secure bool
	}{
		{"plain HTTP", false},
		{"HTTPS", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(d *Deps) { d.Secure = tc.secure })
			e.addStaff(t, "c@example.org", migrantbot.RoleAdmin, "a long enough password", false)
			// The jar would drop a Secure cookie over plain HTTP: look at the
			// Set-Cookie header itself.
			b := e.browser(t)
			b.get("/login")
			r := b.post("/login", url.Values{"email": {"c@example.org"}, "password": {"a long enough password"}})
			wantStatus(t, "POST /login", r, http.StatusSeeOther)
			var c *http.Cookie
			for _, k := range (&http.Response{Header: r.header}).Cookies() {
				if strings.HasSuffix(k.Name, "mb_session") {
					c = k
				}
			}
			if c == nil {
				t.Fatalf("no session cookie in %v", r.header.Values("Set-Cookie"))
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.secure || c.Path != "/" {
				t.Errorf("cookie %s: HttpOnly %v SameSite %v Secure %v Path %q", c.Name, c.HttpOnly, c.SameSite, c.Secure, c.Path)
			}
			if tc.secure != strings.HasPrefix(c.Name, "__Host-") {
				t.Errorf("cookie name %q: __Host- prefix must go with Secure=%v", c.Name, tc.secure)
			}
			// The store keeps only the token's hash.
			var stored string
			if err := e.store.Pool().QueryRow(t.Context(), `SELECT token_hash FROM staff_sessions`).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored == c.Value || stored != tokenHash(c.Value) {
				t.Errorf("stored session key %q is not the SHA-256 of the cookie", stored)
			}
		})
	}
}

func TestLoginThrottle(t *testing.T) {
	const password = "a long enough password"
	t.Run("per account", func(t *testing.T) {
		e := newEnv(t)
		e.addStaff(t, "t@example.org", migrantbot.RoleReviewer, password, false)
		b := e.browser(t)
		for i := range MaxFailuresPerAccount {
			wantStatus(t, fmt.Sprintf("failure %d", i+1), b.login("t@example.org", "wrong"), http.StatusUnauthorized)
		}
		r := b.login("t@example.org", password)
		wantStatus(t, "the right password after 5 failures", r, http.StatusTooManyRequests)
		if !strings.Contains(r.body, "Please wait 15 minutes") {
			t.Errorf("throttled page lacks its polite explanation")
		}
	})
	t.Run("per address", func(t *testing.T) {
		e := newEnv(t)
		e.addStaff(t, "t@example.org", migrantbot.RoleReviewer, password, false)
		b := e.browser(t)
		for i := range MaxFailuresPerIP {
			email := fmt.Sprintf("guess%d@example.org", i)
			wantStatus(t, "failure "+email, b.login(email, "wrong"), http.StatusUnauthorized)
		}
		wantStatus(t, "another account from the same address", b.login("t@example.org", password), http.StatusTooManyRequests)
	})
	t.Run("a success clears the account's failures", func(t *testing.T) {
		e := newEnv(t)
		e.addStaff(t, "t@example.org", migrantbot.RoleReviewer, password, false)
		b := e.browser(t)
		for range MaxFailuresPerAccount - 1 {
			b.login("t@example.org", "wrong")
		}
		wantStatus(t, "login", b.login("t@example.org", password), http.StatusSeeOther)
		byAccount, _, err := e.store.LoginFailures(t.Context(), "t@example.org", "127.0.0.1", e.app.deps.Now().Add(-ThrottleWindow))
		if err != nil {
			t.Fatal(err)
		}
		if byAccount != 0 {
			t.Errorf("failures after a success: got %d, want 0", byAccount)
		}
	})
}

func TestLoginFormNeedsItsToken(t *testing.T) {
	e := newEnv(t)
	e.addStaff(t, "x@example.org", migrantbot.RoleAdmin, "a long enough password", false)
	b := e.browser(t)
	r := b.postRaw("/login", url.Values{"email": {"x@example.org"}, "password": {"a long enough password"}})
	wantStatus(t, "login without the form's token", r, http.StatusForbidden)
}

func TestOneTimePassword(t *testing.T) {
	e := newEnv(t)
	const once = "one-time-PASSWORD"
	s := e.addStaff(t, "new@example.org", migrantbot.RoleReviewer, once, true)
	b := e.browser(t)
	wantRedirect(t, "login with a one-time password", b.login("new@example.org", once), "/password")

	// Nothing but the password page until it is changed.
	wantRedirect(t, "GET /appeals", b.get("/appeals"), "/password")
	wantRedirect(t, "GET /stats", b.get("/stats"), "/password")
	r := b.get("/password")
	wantStatus(t, "GET /password", r, http.StatusOK)
	if !strings.Contains(r.body, "one-time password") {
		t.Errorf("password page does not say why")
	}
	ref := e.submit(t, migrantbot.Appeal{Surname: "Aliyev"})
	wantStatus(t, "POST a note", b.post("/appeals/"+ref+"/notes", url.Values{"text": {"x"}}), http.StatusForbidden)

	tests := []struct {
		name, current, next, again string
		wantText                   string
	}{
		{"wrong current password", "nope", "a brand new password", "a brand new password", "The current password is wrong."},
		{"too short", once, "short", "short", "too short"},
		{"mismatch", once, "a brand new password", "a brand new passwort", "differ"},
		{"same as before", once, once, once, "must differ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b.get("/password")
			r := b.post("/password", url.Values{"current": {tc.current}, "new": {tc.next}, "again": {tc.again}})
			wantStatus(t, "POST /password", r, http.StatusUnprocessableEntity)
			if !strings.Contains(r.body, tc.wantText) {
				t.Errorf("page lacks %q", tc.wantText)
			}
		})
	}

	oldCookie := b.client.Jar.Cookies(mustURL(t, e.srv.URL))
	b.get("/password")
	r = b.post("/password", url.Values{"current": {once}, "new": {"a brand new password"}, "again": {"a brand new password"}})
	wantRedirect(t, "POST /password", r, "/appeals")
	wantStatus(t, "GET /appeals after the change", b.get("/appeals"), http.StatusOK)
	got, err := e.store.StaffByID(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.MustChangePassword {
		t.Errorf("MustChangePassword still set after the change")
	}
	// The session was replaced: the old token no longer works.
	old := e.browser(t)
	old.client.Jar.SetCookies(mustURL(t, e.srv.URL), oldCookie)
	wantRedirect(t, "GET /appeals with the token from before the change", old.get("/appeals"), "/login")

	// The new password works, the old one not.
	wantStatus(t, "login with the old password", e.browser(t).login("new@example.org", once), http.StatusUnauthorized)
	wantRedirect(t, "login with the new password", e.browser(t).login("new@example.org", "a brand new password"), "/appeals")
	if n := e.auditCount(t, "new@example.org", "password.change", ""); n != 1 {
		t.Errorf("audit password.change: got %d, want 1", n)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	b, s := e.loggedIn(t, "out@example.org", migrantbot.RoleReviewer)
	wantRedirect(t, "POST /logout", b.post("/logout", nil), "/login")
	wantRedirect(t, "GET /appeals after logout", b.get("/appeals"), "/login")
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM staff_sessions WHERE staff_id = $1`, s.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("sessions after logout: got %d, want 0", n)
	}
}

func TestLoginReturnsToTheLinkFollowed(t *testing.T) {
	e := newEnv(t)
	e.addStaff(t, "link@example.org", migrantbot.RoleReviewer, "a long enough password", false)
	ref := e.submit(t, migrantbot.Appeal{Surname: "Link"})
	b := e.browser(t)
	r := b.get("/appeals/" + ref)
	wantRedirect(t, "GET the appeal without a session", r, "/login?next=")
	wantStatus(t, "GET the login page", b.get(r.location), http.StatusOK)
	r = b.post("/login", url.Values{"email": {"link@example.org"}, "password": {"a long enough password"}, "next": {"/appeals/" + ref}})
	wantRedirect(t, "login", r, "/appeals/"+ref)

	for _, next := range []string{"https://evil.example/", "//evil.example/", "/\\evil.example"} {
		if got := localPath(next); got != "/appeals" {
			t.Errorf("localPath(%q) = %q, want /appeals", next, got)
		}
	}
}

func TestPasswords(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		p := NewPassword()
		if len(p) != 16 || strings.Trim(p, passwordAlphabet) != "" {
			t.Fatalf("NewPassword() = %q: want 16 characters of the alphabet", p)
		}
		if seen[p] {
			t.Fatalf("NewPassword() repeated %q", p)
		}
		seen[p] = true
	}
	h, err := HashPassword("Şifrə пароль")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$") {
		t.Errorf("hash %q is not argon2id", h)
	}
	if !checkPassword("Şifrə пароль", h) || checkPassword("şifrə пароль", h) || checkPassword("x", "not a hash") {
		t.Errorf("checkPassword does not tell right from wrong")
	}
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestSessionTimeouts ages a session in the database (the store has no
// method for it) and checks that the console then asks for a new login.
func TestSessionTimeouts(t *testing.T) {
	tests := []struct {
		name   string
		age    string // SQL that ages the session
		wantIn bool
	}{
		{"fresh", `UPDATE staff_sessions SET last_seen = now() - interval '29 minutes', created_at = now() - interval '11 hours'`, true},
		{"idle for 31 minutes", `UPDATE staff_sessions SET last_seen = now() - interval '31 minutes'`, false},
		{"12 hours old though active", `UPDATE staff_sessions SET created_at = now() - interval '12 hours 1 minute'`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			b, _ := e.loggedIn(t, "clock@example.org", migrantbot.RoleReviewer)
			if _, err := e.store.Pool().Exec(t.Context(), tc.age); err != nil {
				t.Fatal(err)
			}
			r := b.get("/appeals")
			if tc.wantIn {
				wantStatus(t, "GET /appeals", r, http.StatusOK)
			} else {
				wantRedirect(t, "GET /appeals", r, "/login")
			}
		})
	}
}

// TestRequestLog checks the log line of a request: route, account, status
// and duration, and nothing of the query.
func TestRequestLog(t *testing.T) {
	e := newEnv(t)
	b, me := e.loggedIn(t, "log@example.org", migrantbot.RoleReviewer)
	ref := e.submit(t, migrantbot.Appeal{Surname: "Loggable"})
	b.get("/appeals/" + ref + "?q=Secretname")
	logs := e.logs.String()
	want := fmt.Sprintf(`msg=http method=GET route="GET /appeals/{ref}" status=200 staff=%d duration=`, me.ID)
	if !strings.Contains(logs, want) {
		t.Errorf("logs lack %q:\n%s", want, logs)
	}
	if strings.Contains(logs, "Secretname") || strings.Contains(logs, "Loggable") {
		t.Errorf("logs contain the query or the person's name")
	}
}

// TestCredentialChangesEndOtherSessions: a session opened with a stolen
// password must not outlive a new password or a new second factor.
func TestCredentialChangesEndOtherSessions(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, b *browser, clock *testClock)
		action string
	}{
		{"change the password", func(t *testing.T, b *browser, _ *testClock) {
			b.get("/password")
			wantRedirect(t, "POST /password", b.post("/password", url.Values{
				"current": {testPassword}, "new": {"a brand new password"}, "again": {"a brand new password"},
			}), "/appeals")
		}, "password.change"},
		{"set up the authenticator", func(t *testing.T, b *browser, clock *testClock) {
			enrollTOTP(t, b, clock)
		}, "totp.enroll"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newTestClock()
			e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
			const email = "moved@example.org"
			b, _ := e.loggedIn(t, email, migrantbot.RoleReviewer)
			other := e.browser(t)
			wantRedirect(t, "login in another browser", other.login(email, testPassword), "/appeals")
			bystander, _ := e.loggedIn(t, "bystander@example.org", migrantbot.RoleReviewer)

			tc.change(t, b, clock)
			if n := e.auditCount(t, email, tc.action, email); n != 1 {
				t.Errorf("audit %s: got %d, want 1", tc.action, n)
			}
			wantRedirect(t, "the other browser after the change", other.get("/appeals"), "/login")
			wantStatus(t, "the browser that made the change", b.get("/appeals"), http.StatusOK)
			wantStatus(t, "another account's browser", bystander.get("/appeals"), http.StatusOK)
			entries, err := e.store.ListAudit(t.Context(), email, "session.end_others", email, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Detail != "count=1" {
				t.Errorf("audit session.end_others: got %+v, want one entry with count=1", entries)
			}
		})
	}
}
