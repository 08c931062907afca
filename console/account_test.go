package console

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"migrantbot"
)

var sessionRowPattern = regexp.MustCompile(`<tr data-session="(\d+)">`)

// sessionIDs returns the IDs of the sessions listed on the account page.
func sessionIDs(tb testing.TB, b *browser) ([]string, string) {
	tb.Helper()
	r := b.get("/account")
	wantStatus(tb, "GET /account", r, http.StatusOK)
	var ids []string
	for _, m := range sessionRowPattern.FindAllStringSubmatch(r.body, -1) {
		ids = append(ids, m[1])
	}
	return ids, r.body
}

func TestSessionList(t *testing.T) {
	e := newEnv(t)
	const email = "twice@example.org"
	first, me := e.loggedIn(t, email, migrantbot.RoleReviewer)
	second := e.browser(t)
	wantRedirect(t, "second login", second.login(email, testPassword), "/appeals")

	ids, page := sessionIDs(t, first)
	if len(ids) != 2 {
		t.Fatalf("account page lists %d sessions, want 2 after two logins", len(ids))
	}
	if strings.Count(page, "this session") != 1 {
		t.Errorf("account page marks %d sessions as this one, want 1", strings.Count(page, "this session"))
	}
	// Sessions are named by their IDs; the token hashes stay in the store.
	var hashes []string
	rows, err := e.store.Pool().Query(t.Context(), `SELECT token_hash FROM staff_sessions WHERE staff_id = $1`, me.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if len(hashes) != 2 {
		t.Fatalf("stored sessions: got %d, want 2", len(hashes))
	}
	for _, h := range hashes {
		if strings.Contains(page, h) || strings.Contains(page, h[:16]) {
			t.Errorf("account page shows a token hash")
		}
	}

	// Sign out the others: the second browser is out, the first stays in.
	wantRedirect(t, "sign out other sessions", first.post("/account/sessions/end-others", nil), "/account")
	wantRedirect(t, "the other session", second.get("/appeals"), "/login")
	wantStatus(t, "this session", first.get("/appeals"), http.StatusOK)
	if ids, _ := sessionIDs(t, first); len(ids) != 1 {
		t.Errorf("sessions after signing out the others: got %d, want 1", len(ids))
	}
	if n := e.auditCount(t, email, "session.end_others", email); n != 1 {
		t.Errorf("audit session.end_others: got %d, want 1", n)
	}

	// One session by its ID; another account's session is not found.
	third := e.browser(t)
	wantRedirect(t, "third login", third.login(email, testPassword), "/appeals")
	ids, _ = sessionIDs(t, first)
	if len(ids) != 2 {
		t.Fatalf("sessions after the third login: got %d, want 2", len(ids))
	}
	other, _ := e.loggedIn(t, "other@example.org", migrantbot.RoleReviewer)
	otherIDs, _ := sessionIDs(t, other)
	first.get("/account")
	wantStatus(t, "sign out another account's session", first.post("/account/sessions/"+otherIDs[0]+"/end", nil), http.StatusNotFound)
	wantStatus(t, "the other account", other.get("/appeals"), http.StatusOK)

	current := mustMarkedCurrent(t, first)
	var thirdSession string
	for _, id := range ids {
		if id != current {
			thirdSession = id
		}
	}
	if thirdSession == "" {
		t.Fatalf("cannot tell the third session among %v", ids)
	}
	first.get("/account")
	wantRedirect(t, "sign out one session", first.post("/account/sessions/"+thirdSession+"/end", nil), "/account")
	wantRedirect(t, "the session signed out", third.get("/appeals"), "/login")
	wantStatus(t, "this session", first.get("/appeals"), http.StatusOK)
	if n := e.auditCount(t, email, "session.end", email); n != 1 {
		t.Errorf("audit session.end: got %d, want 1", n)
	}
}

// mustMarkedCurrent returns the ID of the session the account page marks as
// the current one.
func mustMarkedCurrent(tb testing.TB, b *browser) string {
	tb.Helper()
	r := b.get("/account")
	m := regexp.MustCompile(`<tr data-session="(\d+)">(?s:.*?)this session`).FindStringSubmatch(r.body)
	if m == nil {
		tb.Fatalf("no session marked as this one")
	}
	// The lazy match may span rows: take the last row start before the mark.
	rows := sessionRowPattern.FindAllStringSubmatch(m[0], -1)
	return rows[len(rows)-1][1]
}

func TestAdminEndsSessions(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.loggedIn(t, "admin@example.org", migrantbot.RoleAdmin)
	worker, who := e.loggedIn(t, "worker@example.org", migrantbot.RoleReviewer)
	worker2 := e.browser(t)
	wantRedirect(t, "second login", worker2.login("worker@example.org", testPassword), "/appeals")

	admin.get("/staff")
	wantRedirect(t, "sign out everywhere", admin.post("/staff/"+itoa(who.ID)+"/sessions/end", nil), "/staff")
	wantRedirect(t, "the worker's first browser", worker.get("/appeals"), "/login")
	wantRedirect(t, "the worker's second browser", worker2.get("/appeals"), "/login")
	wantStatus(t, "the admin", admin.get("/appeals"), http.StatusOK)
	entries, err := e.store.FindAudit(t.Context(), migrantbot.AuditFilter{Action: "staff.sessions_end", Target: "worker@example.org"})
	if err != nil || len(entries) != 1 || entries[0].Detail != "count=2" {
		t.Errorf("audit staff.sessions_end: got %+v (%v), want one entry with count=2", entries, err)
	}
}

func TestAuditViewer(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.loggedIn(t, "auditor@example.org", migrantbot.RoleAdmin)
	ctx := context.Background()
	const n = auditPageSize + 7
	for i := range n {
		if err := e.store.Audit(ctx, migrantbot.AuditEntry{Actor: "bulk@example.org", Action: "appeal.view", Target: fmt.Sprintf("AP-2026-%06d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, day := range []string{"2026-01-10", "2026-01-11", "2026-01-12"} {
		// At noon office time (UTC+4).
		if _, err := e.store.Pool().Exec(ctx, `INSERT INTO audit_log (at, actor, action, target) VALUES ($1::timestamptz, 'old@example.org', 'export', $2)`,
			day+" 08:00:00+00", "day-"+day); err != nil {
			t.Fatal(err)
		}
	}

	targetPattern := regexp.MustCompile(`<td>(AP-2026-\d{6}|day-[0-9-]+)</td>`)
	targets := func(body string) []string {
		var out []string
		for _, m := range targetPattern.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}
	olderPattern := regexp.MustCompile(`<a href="(/audit\?[^"]+)" rel="next">`)

	r := admin.get("/audit?actor=bulk%40example.org&action=appeal.view")
	wantStatus(t, "GET /audit", r, http.StatusOK)
	page1 := targets(r.body)
	if len(page1) != auditPageSize || page1[0] != fmt.Sprintf("AP-2026-%06d", n-1) {
		t.Fatalf("first page: got %d entries starting %v, want %d newest first", len(page1), page1[:min(1, len(page1))], auditPageSize)
	}
	m := olderPattern.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("first page has no link to older entries")
	}
	older := strings.ReplaceAll(m[1], "&amp;", "&")
	r = admin.get(older)
	page2 := targets(r.body)
	if len(page2) != n-auditPageSize || page2[len(page2)-1] != "AP-2026-000000" {
		t.Errorf("second page: got %v, want the %d oldest", page2, n-auditPageSize)
	}
	if olderPattern.MatchString(r.body) {
		t.Errorf("the last page links to older entries")
	}
	if !strings.Contains(r.body, "Newest</a>") {
		t.Errorf("the second page has no link back to the newest")
	}

	tests := []struct {
		name, query string
		want        []string
	}{
		{"one day", "from=2026-01-11&to=2026-01-11", []string{"day-2026-01-11"}},
		{"from a day", "action=export&from=2026-01-11", []string{"day-2026-01-12", "day-2026-01-11"}},
		{"to a day", "actor=old%40example.org&to=2026-01-10", []string{"day-2026-01-10"}},
		{"by target", "target=AP-2026-000003", []string{"AP-2026-000003"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.get("/audit?" + tc.query)
			wantStatus(t, "GET /audit?"+tc.query, r, http.StatusOK)
			if got := targets(r.body); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	wantStatus(t, "a malformed date", admin.get("/audit?from=11.01.2026"), http.StatusBadRequest)
	wantStatus(t, "a malformed cursor", admin.get("/audit?before=x"), http.StatusBadRequest)
}
