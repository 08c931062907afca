package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"migrantbot"
)

// concretePath fills a route pattern's wildcards with values that exist.
func concretePath(pattern string, values map[string]string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	path = strings.ReplaceAll(path, "{$}", "")
	for k, v := range values {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	if strings.HasSuffix(path, "/static/") {
		path += "console.css"
	}
	return method, path
}

func (b *browser) request(method, path string) response {
	b.tb.Helper()
	if method == http.MethodPost {
		return b.post(path, nil)
	}
	return b.get(path)
}

// wantSecurityHeaders checks the headers every answer must carry, whatever
// it is: page, redirect, error, file or image.
func wantSecurityHeaders(tb testing.TB, what string, r response) {
	tb.Helper()
	for name, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"X-Frame-Options":        "DENY",
	} {
		if got := r.header.Get(name); got != want {
			tb.Errorf("%s (status %d): %s: got %q, want %q", what, r.status, name, got, want)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	wants := []string{"default-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"}
	if strings.Contains(csp, "sandbox") {
		// A file a person sent is served stricter still: nothing of it
		// runs or loads.
		wants = []string{"default-src 'none'", "sandbox", "frame-ancestors 'none'"}
	}
	for _, want := range wants {
		if !strings.Contains(csp, want) {
			tb.Errorf("%s (status %d): Content-Security-Policy %q lacks %q", what, r.status, csp, want)
		}
	}
	// No directive may let inline or evaluated script run.
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src *") {
		tb.Errorf("%s: Content-Security-Policy %q allows inline script", what, csp)
	}
}

// TestEveryRoute walks the whole route table: without a session every
// route but the public ones sends readers to the login page and refuses
// writers; a session waiting for its authenticator code opens only the
// code form and the logout; a reviewer gets 403 on every admin route; an
// admin gets in; every POST refuses a form without the session's CSRF
// token; and every answer carries the security headers.
func TestEveryRoute(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	e.files.files["photo-1"] = memFile{data: []byte("\xff\xd8\xff jpeg"), typ: "image/jpeg"}
	ref := e.submit(t, migrantbot.Appeal{Surname: "Route", Attachments: []migrantbot.Attachment{
		{FileID: "photo-1", FileUniqueID: "u1", Kind: "photo", Size: 9},
	}})
	reviewer, _ := e.loggedIn(t, "reviewer@example.org", migrantbot.RoleReviewer)
	admin, _ := e.loggedIn(t, "admin@example.org", migrantbot.RoleAdmin)
	other := e.addStaff(t, "other@example.org", migrantbot.RoleReviewer, "a long enough password", false)
	// An account with TOTP on, whose browser has given only the password.
	two, _ := e.loggedIn(t, "two@example.org", migrantbot.RoleReviewer)
	enrollTOTP(t, two, clock)
	pending := e.browser(t)
	wantRedirect(t, "password of an account with TOTP", pending.login("two@example.org", testPassword), "/login/code")
	// No session has this ID: signing it out must not end a test's own.
	values := map[string]string{"ref": ref, "n": "0", "id": "1"}

	routes := e.app.routes()
	if len(routes) < 30 {
		t.Fatalf("route table has %d routes; did it lose some?", len(routes))
	}
	for _, rt := range routes {
		t.Run(rt.pattern, func(t *testing.T) {
			method, path := concretePath(rt.pattern, values)
			switch {
			case strings.HasPrefix(path, "/staff/"):
				path = strings.Replace(path, "/staff/1/", "/staff/"+itoa(other.ID)+"/", 1)
			case strings.HasPrefix(path, "/account/sessions/1/"):
				path = strings.Replace(path, "/1/", "/999999/", 1)
			}
			anon := e.browser(t)
			r := anon.request(method, path)
			wantSecurityHeaders(t, "without a session", r)
			switch {
			case rt.access == public:
				if r.status == http.StatusUnauthorized || strings.HasPrefix(r.location, "/login?") {
					t.Errorf("public route without a session: status %d location %q", r.status, r.location)
				}
			case method == http.MethodGet:
				wantRedirect(t, "without a session", r, "/login?next=")
			default:
				wantStatus(t, "without a session", r, http.StatusUnauthorized)
			}
			if rt.access == public {
				return
			}

			// Password right, code not given: only the code form opens,
			// and the way out.
			pending.get("/login/code")
			switch rt.access {
			case secondFactor:
				if method == http.MethodGet {
					wantStatus(t, "waiting for the code", pending.request(method, path), http.StatusOK)
				}
				wantStatus(t, "POST without the CSRF token", pending.postRaw(path, url.Values{"code": {"000000"}}), http.StatusForbidden)
				return
			case leaving:
				// A browser of its own: leaving ends the session the walk
				// goes on with.
				leaver := e.browser(t)
				wantRedirect(t, "password of an account with TOTP", leaver.login("two@example.org", testPassword), "/login/code")
				leaver.get("/login/code")
				wantStatus(t, "POST without the CSRF token", leaver.postRaw(path, url.Values{}), http.StatusForbidden)
				wantRedirect(t, "leaving while waiting for the code", leaver.post(path, nil), "/login")
				// Signing the reviewer or the admin out would end the walk.
				return
			}
			r = pending.request(method, path)
			wantSecurityHeaders(t, "waiting for the code", r)
			if method == http.MethodGet {
				wantRedirect(t, "waiting for the code", r, "/login/code")
			} else {
				wantStatus(t, "waiting for the code", r, http.StatusUnauthorized)
			}

			// Load a page first so the browser has its CSRF token.
			reviewer.get("/appeals")
			if method == http.MethodPost {
				wantStatus(t, "POST without the CSRF token", reviewer.postRaw(path, url.Values{}), http.StatusForbidden)
				wantStatus(t, "POST with a wrong CSRF token", reviewer.postRaw(path, url.Values{"csrf": {admin.csrf}}), http.StatusForbidden)
			}
			r = reviewer.request(method, path)
			wantSecurityHeaders(t, "as a reviewer", r)
			if rt.access == adminOnly {
				wantStatus(t, "as a reviewer", r, http.StatusForbidden)
			} else if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized || strings.HasPrefix(r.location, "/login") {
				t.Errorf("as a reviewer: status %d location %q", r.status, r.location)
			}
			admin.get("/appeals")
			r = admin.request(method, path)
			wantSecurityHeaders(t, "as an admin", r)
			if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized || strings.HasPrefix(r.location, "/login") {
				t.Errorf("as an admin: status %d location %q", r.status, r.location)
			}
		})
	}
	// The walk signed nobody out by mistake.
	wantStatus(t, "reviewer after the walk", reviewer.get("/appeals"), http.StatusOK)
	wantStatus(t, "admin after the walk", admin.get("/appeals"), http.StatusOK)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	ref := e.submit(t, migrantbot.Appeal{Surname: "Csrf"})
	b, _ := e.loggedIn(t, "csrf@example.org", migrantbot.RoleAdmin)
	tests := []struct {
		name  string
		token []string // nil: no field
	}{
		{"no token", nil},
		{"empty token", []string{""}},
		{"wrong token", []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		{"token of another session", []string{"other"}},
	}
	other, _ := e.loggedIn(t, "other@example.org", migrantbot.RoleAdmin)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"text": {"a note that must not be saved"}}
			if tc.token != nil {
				form["csrf"] = tc.token
				if tc.token[0] == "other" {
					form.Set("csrf", other.csrf)
				}
			}
			r := b.postRaw("/appeals/"+ref+"/notes", form)
			wantStatus(t, "POST a note", r, http.StatusForbidden)
			r = b.postRaw("/staff", url.Values{"email": {"made@example.org"}, "role": {"admin"}, "csrf": form["csrf"]})
			wantStatus(t, "POST /staff", r, http.StatusForbidden)
		})
	}
	if d := e.detail(t, ref); len(d.Thread) != 0 {
		t.Errorf("thread after refused posts: %+v", d.Thread)
	}
	if _, _, err := e.store.StaffByEmail(t.Context(), "made@example.org"); migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
		t.Errorf("an account was made without a valid token (err %v)", err)
	}
}

func TestHeadersAndHealth(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	r := b.get("/healthz")
	wantStatus(t, "GET /healthz", r, http.StatusOK)
	if r.body != "ok" {
		t.Errorf("healthz body: got %q, want %q", r.body, "ok")
	}
	for _, path := range []string{"/healthz", "/login", "/static/console.css", "/static/none.css", "/no/such/page", "/appeals", "/account/totp/qr.png"} {
		wantSecurityHeaders(t, "GET "+path, b.get(path))
	}
	if r := b.get("/login"); r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("pages must not be cached: Cache-Control %q", r.header.Get("Cache-Control"))
	}
	if r := b.get("/static/console.css"); !strings.Contains(r.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet Content-Type %q", r.header.Get("Content-Type"))
	}
	if r := b.get("/no/such/page"); r.status != http.StatusNotFound {
		t.Errorf("unknown path: status %d, want 404", r.status)
	}
	// No outside resources: every src and href is local.
	for _, page := range []string{b.get("/login").body} {
		if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "<script") {
			t.Errorf("login page refers to something outside or has a script")
		}
	}
}
