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

// TestEveryRoute walks the whole route table: without a session every
// route but the public ones sends readers to the login page and refuses
// writers; a reviewer gets 403 on every admin route; an admin gets in.
func TestEveryRoute(t *testing.T) {
	e := newEnv(t)
	e.files.files["photo-1"] = memFile{data: []byte("\xff\xd8\xff jpeg"), typ: "image/jpeg"}
	ref := e.submit(t, migrantbot.Appeal{Surname: "Route", Attachments: []migrantbot.Attachment{
		{FileID: "photo-1", FileUniqueID: "u1", Kind: "photo", Size: 9},
	}})
	reviewer, _ := e.loggedIn(t, "reviewer@example.org", migrantbot.RoleReviewer)
	admin, _ := e.loggedIn(t, "admin@example.org", migrantbot.RoleAdmin)
	other := e.addStaff(t, "other@example.org", migrantbot.RoleReviewer, "a long enough password", false)
	values := map[string]string{"ref": ref, "n": "0", "id": "1"}

	routes := e.app.routes()
	if len(routes) < 20 {
		t.Fatalf("route table has %d routes; did it lose some?", len(routes))
	}
	for _, rt := range routes {
		t.Run(rt.pattern, func(t *testing.T) {
			method, path := concretePath(rt.pattern, values)
			if strings.HasPrefix(path, "/staff/") {
				path = strings.Replace(path, "/staff/1/", "/staff/"+itoa(other.ID)+"/", 1)
			}
			anon := e.browser(t)
			r := anon.request(method, path)
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
			if rt.access == public || rt.pattern == "POST /logout" {
				return
			}

			// Load a page first so the browser has its CSRF token.
			reviewer.get("/appeals")
			r = reviewer.request(method, path)
			if rt.access == adminOnly {
				wantStatus(t, "as a reviewer", r, http.StatusForbidden)
			} else if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized || strings.HasPrefix(r.location, "/login") {
				t.Errorf("as a reviewer: status %d location %q", r.status, r.location)
			}
			admin.get("/appeals")
			r = admin.request(method, path)
			if r.status == http.StatusForbidden || r.status == http.StatusUnauthorized || strings.HasPrefix(r.location, "/login") {
				t.Errorf("as an admin: status %d location %q", r.status, r.location)
			}
		})
	}
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
	for _, path := range []string{"/healthz", "/login", "/static/console.css"} {
		r := b.get(path)
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "same-origin",
		} {
			if got := r.header.Get(name); got != want {
				t.Errorf("%s %s: got %q, want %q", path, name, got, want)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s Content-Security-Policy: %q", path, csp)
		}
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
