package console

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"migrantbot"
)

// testClock is a clock the tests move by hand, so that codes are made and
// checked at known times without sleeping. It starts near the real time:
// the login throttle compares it with the database's clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	// The middle of a time step, so that a test's own moves decide which
	// step a code belongs to.
	return &testClock{t: time.Now().Truncate(totpPeriod * time.Second).Add(10 * time.Second)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// code makes the authenticator's code of a secret at a moment.
func code(tb testing.TB, secret string, at time.Time) string {
	tb.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		tb.Fatalf("GenerateCodeCustom: %v", err)
	}
	return c
}

var secretPattern = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)

// enrollTOTP sets up the authenticator of a logged-in browser's account
// through the pages, as a person would, and returns the secret.
func enrollTOTP(tb testing.TB, b *browser, clock *testClock) string {
	tb.Helper()
	wantStatus(tb, "GET /account/totp", b.get("/account/totp"), http.StatusOK)
	wantRedirect(tb, "POST /account/totp/start", b.post("/account/totp/start", nil), "/account/totp")
	r := b.get("/account/totp")
	wantStatus(tb, "GET /account/totp after start", r, http.StatusOK)
	m := secretPattern.FindStringSubmatch(r.body)
	if m == nil {
		tb.Fatalf("enrollment page shows no secret:\n%.2000s", r.body)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	wantRedirect(tb, "confirm the enrollment", b.post("/account/totp", url.Values{"code": {code(tb, secret, clock.Now())}}), "/account")
	return secret
}

// loginWithCode logs in with the password, expects the code form, and
// sends the code; it returns the answer to the code.
func loginWithCode(tb testing.TB, b *browser, email, password, code string) response {
	tb.Helper()
	wantRedirect(tb, "login with the password", b.login(email, password), "/login/code")
	wantStatus(tb, "GET /login/code", b.get("/login/code"), http.StatusOK)
	return b.post("/login/code", url.Values{"code": {code}})
}

const testPassword = "correct horse battery staple"

func TestTOTPEnrollAndLogin(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	const email = "two@example.org"
	b, me := e.loggedIn(t, email, migrantbot.RoleReviewer)

	// The enrollment: a wrong code does not switch it on, the QR code is a
	// PNG of its own route, and a right code does.
	wantRedirect(t, "POST /account/totp/start", b.post("/account/totp/start", nil), "/account/totp")
	r := b.get("/account/totp")
	m := secretPattern.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("enrollment page shows no secret")
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	if !strings.Contains(r.body, `<img src="/account/totp/qr.png"`) {
		t.Errorf("enrollment page has no QR image from its own route")
	}
	qr := b.get("/account/totp/qr.png")
	wantStatus(t, "GET the QR code", qr, http.StatusOK)
	if ct := qr.header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("QR Content-Type: got %q, want image/png", ct)
	}
	if img, err := png.Decode(bytes.NewReader([]byte(qr.body))); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("QR code is not a usable PNG: %v", err)
	}
	wrong := code(t, secret, clock.Now().Add(-5*time.Minute))
	wantStatus(t, "confirm with a wrong code", b.post("/account/totp", url.Values{"code": {wrong}}), http.StatusUnprocessableEntity)
	if s, _ := e.store.StaffByID(t.Context(), me.ID); s.TOTPEnabled {
		t.Fatalf("a wrong code switched TOTP on")
	}
	wantRedirect(t, "confirm", b.post("/account/totp", url.Values{"code": {code(t, secret, clock.Now())}}), "/account")
	if s, _ := e.store.StaffByID(t.Context(), me.ID); !s.TOTPEnabled {
		t.Fatalf("TOTP off after a right code")
	}
	if n := e.auditCount(t, email, "totp.enroll", email); n != 1 {
		t.Errorf("audit totp.enroll: got %d, want 1", n)
	}
	// Once on, the secret is shown no more.
	wantStatus(t, "GET the QR code once on", b.get("/account/totp/qr.png"), http.StatusNotFound)
	wantRedirect(t, "GET /account/totp once on", b.get("/account/totp"), "/account")

	// Logins now need a code; failures are counted and audited.
	clock.Add(totpPeriod * time.Second)
	c := e.browser(t)
	r = loginWithCode(t, c, email, testPassword, wrong)
	wantStatus(t, "a wrong code", r, http.StatusUnauthorized)
	if !strings.Contains(r.body, "The code is wrong") {
		t.Errorf("the code page does not say the code is wrong")
	}
	if n, _, err := e.store.LoginFailures(t.Context(), email, "127.0.0.1", clock.Now().Add(-ThrottleWindow)); err != nil || n != 1 {
		t.Errorf("failures after a wrong code: got %d (%v), want 1", n, err)
	}
	if n := e.auditCount(t, email, "totp.failed", email); n != 1 {
		t.Errorf("audit totp.failed: got %d, want 1", n)
	}
	wantRedirect(t, "GET /appeals while the code is due", c.get("/appeals"), "/login/code")
	used := code(t, secret, clock.Now())
	r = c.post("/login/code", url.Values{"code": {used}})
	wantRedirect(t, "the right code", r, "/appeals")
	wantStatus(t, "GET /appeals after the code", c.get("/appeals"), http.StatusOK)
	if n := e.auditCount(t, email, "login", email); n != 2 {
		t.Errorf("audit login: got %d, want 2", n)
	}
	if n, _, _ := e.store.LoginFailures(t.Context(), email, "127.0.0.1", clock.Now().Add(-ThrottleWindow)); n != 0 {
		t.Errorf("failures after a full login: got %d, want 0", n)
	}

	// The same code again, in the same time step, is refused.
	d := e.browser(t)
	wantStatus(t, "a replayed code", loginWithCode(t, d, email, testPassword, used), http.StatusUnauthorized)
	wantRedirect(t, "GET /appeals after a replayed code", d.get("/appeals"), "/login/code")

	// One step of clock drift either way is forgiven; two are not.
	tests := []struct {
		name   string
		offset time.Duration // of the phone's clock
		want   int
	}{
		{"phone 30 s behind", -totpPeriod * time.Second, http.StatusSeeOther},
		{"phone 60 s behind", -2 * totpPeriod * time.Second, http.StatusUnauthorized},
		{"phone 30 s ahead", totpPeriod * time.Second, http.StatusSeeOther},
		{"phone 60 s ahead", 2 * totpPeriod * time.Second, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Three steps on: the steps the offsets reach are all after
			// the last one used.
			clock.Add(3 * totpPeriod * time.Second)
			_ = e.store.ClearLoginFailures(context.Background(), email)
			wantStatus(t, "login", loginWithCode(t, e.browser(t), email, testPassword, code(t, secret, clock.Now().Add(tc.offset))), tc.want)
		})
	}
}

func TestTOTPThrottle(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	const email = "guess@example.org"
	b, _ := e.loggedIn(t, email, migrantbot.RoleReviewer)
	secret := enrollTOTP(t, b, clock)
	clock.Add(totpPeriod * time.Second)

	c := e.browser(t)
	wantRedirect(t, "login with the password", c.login(email, testPassword), "/login/code")
	c.get("/login/code")
	for i := range MaxFailuresPerAccount {
		wantStatus(t, "wrong code "+itoa(int64(i+1)), c.post("/login/code", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
	}
	wantStatus(t, "the right code after 5 failures", c.post("/login/code", url.Values{"code": {code(t, secret, clock.Now())}}), http.StatusTooManyRequests)
	// The password does not clear the failures of the code.
	wantStatus(t, "the password again", e.browser(t).login(email, testPassword), http.StatusTooManyRequests)
}

func TestTOTPRequiredForAdmins(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now; d.RequireTOTP = true })
	ref := e.submit(t, migrantbot.Appeal{Surname: "Required"})
	admin, me := e.loggedInAllowingSetup(t, "boss@example.org", migrantbot.RoleAdmin)

	wantRedirect(t, "GET /appeals without TOTP", admin.get("/appeals"), "/account/totp")
	wantRedirect(t, "GET /staff without TOTP", admin.get("/staff"), "/account/totp")
	wantRedirect(t, "GET /account without TOTP", admin.get("/account"), "/account/totp")
	r := admin.get("/account/totp")
	wantStatus(t, "GET /account/totp", r, http.StatusOK)
	if !strings.Contains(r.body, "Admins must use an authenticator app") {
		t.Errorf("enrollment page does not say it is required")
	}
	wantStatus(t, "POST a note without TOTP", admin.post("/appeals/"+ref+"/notes", url.Values{"text": {"x"}}), http.StatusForbidden)

	// Reviewers are not asked.
	reviewer, _ := e.loggedIn(t, "reviewer@example.org", migrantbot.RoleReviewer)
	wantStatus(t, "reviewer GET /appeals", reviewer.get("/appeals"), http.StatusOK)

	secret := enrollTOTP(t, admin, clock)
	wantStatus(t, "GET /appeals with TOTP", admin.get("/appeals"), http.StatusOK)

	// Nor can the admin switch it off again.
	clock.Add(totpPeriod * time.Second)
	admin.get("/account")
	admin.post("/account/totp/disable", url.Values{"code": {code(t, secret, clock.Now())}})
	if s, _ := e.store.StaffByID(t.Context(), me.ID); !s.TOTPEnabled {
		t.Errorf("an admin switched off a required TOTP")
	}
}

// loggedInAllowingSetup is loggedIn for an account that is sent elsewhere
// after login (to set up TOTP).
func (e *env) loggedInAllowingSetup(tb testing.TB, email string, role migrantbot.Role) (*browser, migrantbot.Staff) {
	tb.Helper()
	s := e.addStaff(tb, email, role, testPassword, false)
	b := e.browser(tb)
	if r := b.login(email, testPassword); r.status != http.StatusSeeOther {
		tb.Fatalf("login %s: status %d, want 303", email, r.status)
	}
	return b, s
}

func TestTOTPDisable(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	const email = "off@example.org"
	b, me := e.loggedIn(t, email, migrantbot.RoleReviewer)
	secret := enrollTOTP(t, b, clock)
	clock.Add(totpPeriod * time.Second)

	b.get("/account")
	wantRedirect(t, "disable with a wrong code", b.post("/account/totp/disable", url.Values{"code": {"123456"}}), "/account")
	if s, _ := e.store.StaffByID(t.Context(), me.ID); !s.TOTPEnabled {
		t.Fatalf("a wrong code switched TOTP off")
	}
	wantRedirect(t, "disable with the code", b.post("/account/totp/disable", url.Values{"code": {code(t, secret, clock.Now())}}), "/account")
	if s, _ := e.store.StaffByID(t.Context(), me.ID); s.TOTPEnabled {
		t.Fatalf("TOTP still on after disabling with a right code")
	}
	if n := e.auditCount(t, email, "totp.disable", email); n != 1 {
		t.Errorf("audit totp.disable: got %d, want 1", n)
	}
	wantRedirect(t, "login without a code", e.browser(t).login(email, testPassword), "/appeals")
}

func TestTOTPResetByAdmin(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	const email = "lost@example.org"
	lost, who := e.loggedIn(t, email, migrantbot.RoleReviewer)
	enrollTOTP(t, lost, clock)
	admin, _ := e.loggedIn(t, "admin@example.org", migrantbot.RoleAdmin)

	r := admin.get("/staff")
	if !strings.Contains(r.body, `action="/staff/`+itoa(who.ID)+`/totp/reset"`) {
		t.Errorf("staff page offers no reset for an account with TOTP")
	}
	wantRedirect(t, "reset", admin.post("/staff/"+itoa(who.ID)+"/totp/reset", nil), "/staff")
	if s, _ := e.store.StaffByID(t.Context(), who.ID); s.TOTPEnabled {
		t.Errorf("TOTP still on after the reset")
	}
	wantRedirect(t, "the reset account's session", lost.get("/appeals"), "/login")
	if n := e.auditCount(t, "admin@example.org", "totp.reset", email); n != 1 {
		t.Errorf("audit totp.reset: got %d, want 1", n)
	}
	wantRedirect(t, "login after the reset", e.browser(t).login(email, testPassword), "/appeals")
}

func TestMatchTOTP(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Unix(1_800_000_015, 0) // 15 s into a step
	step := totpStep(now)
	tests := []struct {
		name     string
		code     string
		lastStep int64
		wantStep int64
		wantOK   bool
	}{
		{"current", code(t, secret, now), 0, step, true},
		{"with a space", code(t, secret, now)[:3] + " " + code(t, secret, now)[3:], 0, step, true},
		{"previous step", code(t, secret, now.Add(-30*time.Second)), 0, step - 1, true},
		{"next step", code(t, secret, now.Add(30*time.Second)), 0, step + 1, true},
		{"two steps old", code(t, secret, now.Add(-60*time.Second)), 0, 0, false},
		{"current, already used", code(t, secret, now), step, 0, false},
		{"previous, a later one used", code(t, secret, now.Add(-30*time.Second)), step, 0, false},
		{"next, current used", code(t, secret, now.Add(30*time.Second)), step, step + 1, true},
		{"too short", "12345", 0, 0, false},
		{"letters", "abcdef", 0, 0, false},
		{"empty", "", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := matchTOTP(secret, tc.code, now, tc.lastStep)
			if got != tc.wantStep || ok != tc.wantOK {
				t.Errorf("matchTOTP(%q, last %d): got %d %v, want %d %v", tc.code, tc.lastStep, got, ok, tc.wantStep, tc.wantOK)
			}
		})
	}
}

// TestTOTPResetNotSelf: the admin's reset is for another's lost phone. On
// one's own account it would switch TOTP off without a code, past
// STAFF_TOTP=required.
func TestTOTPResetNotSelf(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now; d.RequireTOTP = true })
	const email = "self@example.org"
	admin, me := e.loggedInAllowingSetup(t, email, migrantbot.RoleAdmin)
	enrollTOTP(t, admin, clock)

	reset := `action="/staff/` + itoa(me.ID) + `/totp/reset"`
	if r := admin.get("/staff"); strings.Contains(r.body, reset) {
		t.Errorf("staff page offers the admin a reset of their own authenticator")
	}
	wantRedirect(t, "reset one's own", admin.post("/staff/"+itoa(me.ID)+"/totp/reset", nil), "/staff")
	if s, _ := e.store.StaffByID(t.Context(), me.ID); !s.TOTPEnabled {
		t.Fatalf("an admin reset their own TOTP")
	}
	r := admin.get("/staff")
	wantStatus(t, "GET /staff after the refusal", r, http.StatusOK)
	if !strings.Contains(r.body, "You cannot reset your own authenticator") {
		t.Errorf("the staff page does not say why the reset was refused")
	}
	if n := e.auditCount(t, email, "totp.reset", email); n != 0 {
		t.Errorf("audit totp.reset: got %d, want 0", n)
	}
}

// TestLogoutAtCodeForm: a person who gave the password may give up at the
// code form, and then no session is left behind.
func TestLogoutAtCodeForm(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	const email = "leave@example.org"
	b, who := e.loggedIn(t, email, migrantbot.RoleReviewer)
	enrollTOTP(t, b, clock)

	c := e.browser(t)
	wantRedirect(t, "login with the password", c.login(email, testPassword), "/login/code")
	r := c.get("/login/code")
	wantStatus(t, "GET /login/code", r, http.StatusOK)
	if !strings.Contains(r.body, `action="/logout"`) {
		t.Errorf("the code form has no logout button")
	}
	wantStatus(t, "logout without the CSRF token", c.postRaw("/logout", url.Values{}), http.StatusForbidden)
	wantRedirect(t, "logout at the code form", c.post("/logout", nil), "/login")
	wantRedirect(t, "GET /login/code after logout", c.get("/login/code"), "/login?next=")
	var pending int
	if err := e.store.Pool().QueryRow(t.Context(),
		`SELECT count(*) FROM staff_sessions WHERE staff_id = $1 AND pending`, who.ID).Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Errorf("pending sessions after logout: got %d, want 0", pending)
	}
	if n := e.auditCount(t, email, "logout", email); n != 1 {
		t.Errorf("audit logout: got %d, want 1", n)
	}
	wantStatus(t, "the enrolled browser after the other's logout", b.get("/appeals"), http.StatusOK)
}

// TestTOTPDailyCap: someone with the password who guesses codes slowly,
// never tripping the throttle, is stopped after MaxCodeFailuresPerDay wrong
// codes, until an admin resets the authenticator or a day has passed.
func TestTOTPDailyCap(t *testing.T) {
	clock := newTestClock()
	e := newEnv(t, func(d *Deps) { d.Now = clock.Now })
	const email = "slow@example.org"
	b, who := e.loggedIn(t, email, migrantbot.RoleReviewer)
	secret := enrollTOTP(t, b, clock)
	admin, _ := e.loggedIn(t, "admin@example.org", migrantbot.RoleAdmin)
	clock.Add(totpPeriod * time.Second)

	t.Run("locked until an admin resets", func(t *testing.T) {
		// The day's earlier wrong codes, as the code form audits them: the
		// clock stays where the throttle, which compares it with the
		// database's, still sees the failures of this test.
		for range MaxCodeFailuresPerDay - 1 {
			if err := e.store.Audit(t.Context(), migrantbot.AuditEntry{Actor: email, Action: "totp.failed", Target: email, IP: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
		}
		c := e.browser(t)
		wantStatus(t, "the last wrong code of the day", loginWithCode(t, c, email, testPassword, "000000"), http.StatusUnauthorized)
		right := url.Values{"code": {code(t, secret, clock.Now())}}
		r := c.post("/login/code", right)
		wantStatus(t, "the right code after the day's failures", r, http.StatusLocked)
		if !strings.Contains(r.body, "logging in with a code is locked") {
			t.Errorf("the code page does not say the account is locked")
		}
		wantRedirect(t, "GET /appeals after the refusal", c.get("/appeals"), "/login/code")
		// Hammering the form is refused, and audited only while the
		// throttle allows (the wrong code above counts in it).
		for range 2 * MaxFailuresPerAccount {
			wantStatus(t, "the right code again", c.post("/login/code", right), http.StatusLocked)
		}
		if n := e.auditCount(t, email, "totp.locked", email); n != MaxFailuresPerAccount-1 {
			t.Errorf("audit totp.locked: got %d, want %d", n, MaxFailuresPerAccount-1)
		}

		admin.get("/staff")
		wantRedirect(t, "reset", admin.post("/staff/"+itoa(who.ID)+"/totp/reset", nil), "/staff")
		if err := e.store.ClearLoginFailures(t.Context(), email); err != nil {
			t.Fatal(err)
		}
		d := e.browser(t)
		wantRedirect(t, "login after the reset", d.login(email, testPassword), "/appeals")
		secret = enrollTOTP(t, d, clock)
		clock.Add(totpPeriod * time.Second)
		wantRedirect(t, "the right code after the reset and a new enrollment",
			loginWithCode(t, e.browser(t), email, testPassword, code(t, secret, clock.Now())), "/appeals")
	})

	t.Run("locked for a day", func(t *testing.T) {
		// Every wrong code through the form, the clock moved past the
		// throttle's window before it would refuse.
		clock.Add(ThrottleWindow + time.Minute)
		c := e.browser(t)
		wantRedirect(t, "login with the password", c.login(email, testPassword), "/login/code")
		c.get("/login/code")
		for i := range MaxCodeFailuresPerDay {
			if i > 0 && i%MaxFailuresPerAccount == 0 {
				clock.Add(ThrottleWindow + time.Minute)
			}
			wantStatus(t, "wrong code "+itoa(int64(i+1)), c.post("/login/code", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		}
		clock.Add(ThrottleWindow + time.Minute)
		wantStatus(t, "the right code after the day's failures",
			c.post("/login/code", url.Values{"code": {code(t, secret, clock.Now())}}), http.StatusLocked)
		clock.Add(CodeFailureWindow)
		wantRedirect(t, "the right code a day later",
			loginWithCode(t, e.browser(t), email, testPassword, code(t, secret, clock.Now())), "/appeals")
	})
}
