package store_test

import (
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store/storetest"
)

func TestStaffAccounts(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()

	admin, err := s.CreateStaff(ctx, " Boss@Ombudsman.example ", migrantbot.RoleAdmin, "hash-1", true)
	must(t, "CreateStaff", err)
	if admin.ID == 0 || admin.Email != "Boss@Ombudsman.example" || admin.Role != migrantbot.RoleAdmin ||
		admin.Lang != "en" || admin.Disabled || !admin.MustChangePassword || admin.CreatedAt.IsZero() || !admin.LastLoginAt.IsZero() {
		t.Errorf("created account: got %+v", admin)
	}

	invalid := []struct {
		name, email string
		role        migrantbot.Role
		hash        string
		code        string
	}{
		{"same email in another case", "boss@OMBUDSMAN.example", migrantbot.RoleReviewer, "h", migrantbot.ECONFLICT},
		{"no @", "boss", migrantbot.RoleReviewer, "h", migrantbot.EINVALID},
		{"unknown role", "x@ombudsman.example", "root", "h", migrantbot.EINVALID},
		{"no password", "x@ombudsman.example", migrantbot.RoleReviewer, "", migrantbot.EINVALID},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateStaff(ctx, tc.email, tc.role, tc.hash, false)
			wantCode(t, "CreateStaff", err, tc.code)
		})
	}

	reviewer := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	got, hash, err := s.StaffByEmail(ctx, "BOSS@ombudsman.EXAMPLE")
	must(t, "StaffByEmail", err)
	if got.ID != admin.ID || hash != "hash-1" {
		t.Errorf("StaffByEmail: got %+v with hash %q, want account %d with hash-1", got, hash, admin.ID)
	}
	_, _, err = s.StaffByEmail(ctx, "nobody@ombudsman.example")
	wantCode(t, "StaffByEmail of nobody", err, migrantbot.ENOTFOUND)
	_, err = s.StaffByID(ctx, 999)
	wantCode(t, "StaffByID of nobody", err, migrantbot.ENOTFOUND)

	list, err := s.ListStaff(ctx)
	must(t, "ListStaff", err)
	if len(list) != 2 || list[0].ID != reviewer.ID || list[1].ID != admin.ID {
		t.Errorf("ListStaff: got %+v, want anna then boss", list)
	}

	must(t, "SetStaffLang", s.SetStaffLang(ctx, reviewer.ID, "az"))
	wantCode(t, "SetStaffLang fr", s.SetStaffLang(ctx, reviewer.ID, "fr"), migrantbot.EINVALID)
	wantCode(t, "SetStaffLang of nobody", s.SetStaffLang(ctx, 999, "ru"), migrantbot.ENOTFOUND)
	must(t, "SetPassword", s.SetPassword(ctx, admin.ID, "hash-2", false))
	wantCode(t, "SetPassword empty", s.SetPassword(ctx, admin.ID, "", false), migrantbot.EINVALID)
	wantCode(t, "SetPassword of nobody", s.SetPassword(ctx, 999, "h", false), migrantbot.ENOTFOUND)
	must(t, "RecordLogin", s.RecordLogin(ctx, admin.ID))
	wantCode(t, "RecordLogin of nobody", s.RecordLogin(ctx, 999), migrantbot.ENOTFOUND)

	got, hash, err = s.StaffByEmail(ctx, "boss@ombudsman.example")
	must(t, "StaffByEmail", err)
	if hash != "hash-2" || got.MustChangePassword || time.Since(got.LastLoginAt) > time.Minute {
		t.Errorf("after SetPassword and RecordLogin: got %+v with hash %q", got, hash)
	}
	if got, _ := s.StaffByID(ctx, reviewer.ID); got.Lang != "az" {
		t.Errorf("Lang after SetStaffLang: got %q, want az", got.Lang)
	}

	// Disabling ends the account's sessions, and only its own.
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, reviewer.ID, "tok-r1", "csrf", "10.0.0.1", false))
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, reviewer.ID, "tok-r2", "csrf", "10.0.0.1", false))
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, admin.ID, "tok-a", "csrf", "10.0.0.2", false))
	must(t, "SetStaffDisabled", s.SetStaffDisabled(ctx, reviewer.ID, true))
	if n := count(t, s, `SELECT count(*) FROM staff_sessions WHERE staff_id = $1`, reviewer.ID); n != 0 {
		t.Errorf("sessions of a disabled account: got %d, want 0", n)
	}
	if n := count(t, s, `SELECT count(*) FROM staff_sessions WHERE staff_id = $1`, admin.ID); n != 1 {
		t.Errorf("sessions of another account: got %d, want 1", n)
	}
	if got, _ := s.StaffByID(ctx, reviewer.ID); !got.Disabled {
		t.Errorf("Disabled after SetStaffDisabled: got false")
	}
	wantCode(t, "CreateStaffSession of a disabled account", s.CreateStaffSession(ctx, reviewer.ID, "tok-r3", "csrf", "", false), migrantbot.ENOTFOUND)
	wantCode(t, "CreateStaffSession with a taken token", s.CreateStaffSession(ctx, admin.ID, "tok-a", "csrf", "", false), migrantbot.ECONFLICT)
	wantCode(t, "SetStaffDisabled of nobody", s.SetStaffDisabled(ctx, 999, true), migrantbot.ENOTFOUND)
	must(t, "enable again", s.SetStaffDisabled(ctx, reviewer.ID, false))
	must(t, "CreateStaffSession after enabling", s.CreateStaffSession(ctx, reviewer.ID, "tok-r4", "csrf", "", false))
}

func TestStaffSession(t *testing.T) {
	const (
		idle     = 30 * time.Minute
		absolute = 12 * time.Hour
	)
	tests := []struct {
		name  string
		setup string // SQL run before the lookup; $1 is the account's id
		ok    bool
	}{
		{"fresh", ``, true},
		{"used recently", `UPDATE staff_sessions SET created_at = now() - interval '11 hours', last_seen = now() - interval '29 minutes'
			WHERE staff_id = $1`, true},
		{"idle too long", `UPDATE staff_sessions SET last_seen = now() - interval '31 minutes' WHERE staff_id = $1`, false},
		{"too old though active", `UPDATE staff_sessions SET created_at = now() - interval '13 hours' WHERE staff_id = $1`, false},
		{"account disabled", `UPDATE staff SET disabled = true WHERE id = $1`, false},
		{"logged out", `DELETE FROM staff_sessions WHERE staff_id = $1`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.NewStore(t)
			ctx := t.Context()
			st := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
			must(t, "CreateStaffSession", s.CreateStaffSession(ctx, st.ID, "tok", "csrf-1", "10.0.0.1", false))
			if tc.setup != "" {
				exec(t, s, tc.setup, st.ID)
			}
			sess, err := s.StaffSession(ctx, "tok", idle, absolute)
			if !tc.ok {
				wantCode(t, "StaffSession", err, migrantbot.ENOTFOUND)
				if n := count(t, s, `SELECT count(*) FROM staff_sessions`); n != 0 {
					t.Errorf("an ended session stays stored: got %d rows, want 0", n)
				}
				return
			}
			must(t, "StaffSession", err)
			if sess.Staff.ID != st.ID || sess.Staff.Email != st.Email || sess.CSRF != "csrf-1" {
				t.Errorf("StaffSession: got %+v", sess)
			}
			if time.Since(sess.LastSeen) > time.Minute || sess.LastSeen.Before(sess.CreatedAt) {
				t.Errorf("LastSeen not moved to now: %v (created %v)", sess.LastSeen, sess.CreatedAt)
			}
		})
	}

	s := storetest.NewStore(t)
	ctx := t.Context()
	_, err := s.StaffSession(ctx, "tok", 0, absolute)
	wantCode(t, "StaffSession without idle timeout", err, migrantbot.EINVALID)
	st := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, st.ID, "tok", "csrf", "", false))
	must(t, "DeleteStaffSession", s.DeleteStaffSession(ctx, "tok"))
	must(t, "DeleteStaffSession again", s.DeleteStaffSession(ctx, "tok"))
	_, err = s.StaffSession(ctx, "tok", idle, absolute)
	wantCode(t, "StaffSession after logout", err, migrantbot.ENOTFOUND)
}

func TestLoginThrottling(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	for _, f := range []struct{ email, ip string }{
		{"anna@ombudsman.example", "10.0.0.1"},
		{"ANNA@ombudsman.example", "10.0.0.2"},
		{"anna@ombudsman.example", "10.0.0.1"},
		{"boss@ombudsman.example", "10.0.0.1"},
	} {
		must(t, "RecordLoginFailure", s.RecordLoginFailure(ctx, f.email, f.ip))
	}
	// One old failure, outside the window asked for.
	exec(t, s, `INSERT INTO login_failures (email, ip, at) VALUES ('anna@ombudsman.example', '10.0.0.1', now() - interval '2 hours')`)
	hourAgo := time.Now().Add(-time.Hour)

	tests := []struct {
		name            string
		email, ip       string
		since           time.Time
		wantAcc, wantIP int
	}{
		{"account in any case, one address", "Anna@Ombudsman.example", "10.0.0.1", hourAgo, 3, 3},
		{"other address", "anna@ombudsman.example", "10.0.0.2", hourAgo, 3, 1},
		{"longer window", "anna@ombudsman.example", "10.0.0.1", hourAgo.Add(-2 * time.Hour), 4, 4},
		{"unknown", "x@ombudsman.example", "10.9.9.9", hourAgo, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc, ip, err := s.LoginFailures(ctx, tc.email, tc.ip, tc.since)
			must(t, "LoginFailures", err)
			if acc != tc.wantAcc || ip != tc.wantIP {
				t.Errorf("LoginFailures: got %d by account, %d by address; want %d, %d", acc, ip, tc.wantAcc, tc.wantIP)
			}
		})
	}

	must(t, "ClearLoginFailures", s.ClearLoginFailures(ctx, "ANNA@ombudsman.example"))
	acc, ip, err := s.LoginFailures(ctx, "anna@ombudsman.example", "10.0.0.1", hourAgo)
	must(t, "LoginFailures", err)
	if acc != 0 || ip != 1 {
		t.Errorf("after ClearLoginFailures: got %d by account, %d by address; want 0, 1 (boss's)", acc, ip)
	}

	// Failures older than a day are forgotten when the next is recorded.
	exec(t, s, `INSERT INTO login_failures (email, ip, at) VALUES ('old@ombudsman.example', '10.0.0.3', now() - interval '25 hours')`)
	must(t, "RecordLoginFailure", s.RecordLoginFailure(ctx, "boss@ombudsman.example", "10.0.0.1"))
	if n := count(t, s, `SELECT count(*) FROM login_failures WHERE email = 'old@ombudsman.example'`); n != 0 {
		t.Errorf("failure older than a day: got %d rows, want 0", n)
	}
}

// TestStaffSessionList lists an account's sessions by their IDs and ends
// them one by one and all but one, never touching another account's.
func TestStaffSessionList(t *testing.T) {
	const (
		idle     = 30 * time.Minute
		absolute = 12 * time.Hour
	)
	s := storetest.NewStore(t)
	ctx := t.Context()
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	for i, tok := range []string{"tok-1", "tok-2", "tok-3", "tok-old"} {
		must(t, "CreateStaffSession", s.CreateStaffSession(ctx, anna.ID, tok, "csrf", "10.0.0."+string(rune('1'+i)), false))
	}
	must(t, "CreateStaffSession", s.CreateStaffSession(ctx, boss.ID, "tok-boss", "csrf", "10.0.9.9", false))
	exec(t, s, `UPDATE staff_sessions SET last_seen = now() - interval '31 minutes' WHERE token_hash = 'tok-old'`)
	exec(t, s, `UPDATE staff_sessions SET last_seen = now() - interval '1 minute' WHERE token_hash = 'tok-1'`)

	mine, err := s.StaffSession(ctx, "tok-2", idle, absolute)
	must(t, "StaffSession", err)
	list, err := s.ListStaffSessions(ctx, anna.ID, idle, absolute)
	must(t, "ListStaffSessions", err)
	if len(list) != 3 {
		t.Fatalf("ListStaffSessions: got %d sessions, want 3 (the idle one left out): %+v", len(list), list)
	}
	if list[0].ID != mine.ID || list[2].IP != "10.0.0.1" {
		t.Errorf("order: got %+v, want the session just used first and the one used a minute ago last", list)
	}
	seen := map[int64]bool{}
	for _, sess := range list {
		if sess.ID == 0 || seen[sess.ID] || sess.Staff.ID != anna.ID || sess.CSRF != "" || sess.CreatedAt.IsZero() {
			t.Errorf("listed session %+v: want a unique ID, the account, no CSRF token and a creation time", sess)
		}
		seen[sess.ID] = true
	}

	bossList, err := s.ListStaffSessions(ctx, boss.ID, idle, absolute)
	must(t, "ListStaffSessions", err)
	wantCode(t, "DeleteStaffSessionByID of another account's session", s.DeleteStaffSessionByID(ctx, anna.ID, bossList[0].ID), migrantbot.ENOTFOUND)
	must(t, "DeleteStaffSessionByID", s.DeleteStaffSessionByID(ctx, anna.ID, list[2].ID))
	_, err = s.StaffSession(ctx, "tok-1", idle, absolute)
	wantCode(t, "StaffSession of an ended session", err, migrantbot.ENOTFOUND)

	n, err := s.DeleteStaffSessions(ctx, anna.ID, mine.ID)
	must(t, "DeleteStaffSessions", err)
	if n != 2 { // tok-3 and the idle tok-old
		t.Errorf("DeleteStaffSessions: ended %d, want 2", n)
	}
	if _, err := s.StaffSession(ctx, "tok-2", idle, absolute); err != nil {
		t.Errorf("the kept session ended: %v", err)
	}
	if _, err := s.StaffSession(ctx, "tok-boss", idle, absolute); err != nil {
		t.Errorf("another account's session ended: %v", err)
	}
	n, err = s.DeleteStaffSessions(ctx, anna.ID, 0)
	must(t, "DeleteStaffSessions of all", err)
	if n != 1 {
		t.Errorf("DeleteStaffSessions keeping none: ended %d, want 1", n)
	}

	// A pending session says so.
	must(t, "CreateStaffSession pending", s.CreateStaffSession(ctx, anna.ID, "tok-p", "csrf", "", true))
	p, err := s.StaffSession(ctx, "tok-p", idle, absolute)
	must(t, "StaffSession pending", err)
	if !p.Pending {
		t.Errorf("a pending session reads as complete")
	}
}
