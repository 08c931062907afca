package console

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"migrantbot"
)

// loginCookie carries the login form's CSRF token (double submit): before
// login there is no session to keep it in.
const loginCookie = "mb_login"

type loginPage struct {
	Email string
	Next  string
	Token string
	Error string // message id
}

func (a *app) showLogin(w http.ResponseWriter, r *http.Request, status int, p loginPage) {
	p.Token = newToken()
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: p.Token, Path: "/login", MaxAge: 3600,
		HttpOnly: true, Secure: a.deps.Secure, SameSite: http.SameSiteStrictMode,
	})
	v := a.newView(r, "login_title", &p)
	a.render(w, r, status, "login", v)
}

func (a *app) handleLoginPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.showLogin(w, r, http.StatusOK, loginPage{Next: localPath(r.URL.Query().Get("next"))})
	})
}

// loginStore is what logging in needs.
type loginStore interface {
	Accounts
	Sessions
	Throttle
	AuditLog
}

// handleLogin checks the throttle first, then the password, and starts a
// new session (a new token every time, so no fixation).
func (a *app) handleLogin(st loginStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
		password := r.PostFormValue("password")
		page := loginPage{Email: email, Next: localPath(r.PostFormValue("next"))}

		c, err := r.Cookie(loginCookie)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
			page.Error = "login_expired"
			a.showLogin(w, r, http.StatusForbidden, page)
			return
		}
		if email == "" || password == "" {
			page.Error = "login_failed"
			a.showLogin(w, r, http.StatusUnauthorized, page)
			return
		}
		// A browser that logs in again leaves its earlier session, say one
		// that waited for a code, behind for good.
		if old := a.cookieToken(r); old != "" {
			if err := st.DeleteStaffSession(ctx, tokenHash(old)); err != nil {
				a.serverError(w, r, fmt.Errorf("console: login: end earlier session: %w", err))
				return
			}
		}
		ip := clientIP(r)
		byAccount, byIP, err := st.LoginFailures(ctx, email, ip, a.deps.Now().Add(-ThrottleWindow))
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: login: %w", err))
			return
		}
		if byAccount >= MaxFailuresPerAccount || byIP >= MaxFailuresPerIP {
			page.Error = "login_throttled"
			a.showLogin(w, r, http.StatusTooManyRequests, page)
			return
		}

		staff, hash, err := st.StaffByEmail(ctx, email)
		switch migrantbot.ErrorCode(err) {
		case "":
		case migrantbot.ENOTFOUND:
			hash = a.dummyHash
		default:
			a.serverError(w, r, fmt.Errorf("console: login: %w", err))
			return
		}
		ok := checkPassword(password, hash) && err == nil
		if ok && staff.Disabled {
			// Only someone who knows the password learns that the account
			// is disabled.
			page.Error = "login_disabled"
			a.showLogin(w, r, http.StatusForbidden, page)
			return
		}
		if !ok {
			if err := st.RecordLoginFailure(ctx, email, ip); err != nil {
				a.serverError(w, r, fmt.Errorf("console: login: %w", err))
				return
			}
			if staff.ID != 0 {
				a.logAuditError(r, a.audit(ctx, r, "login.failed", email, ""))
			}
			// The same answer for an unknown account and a wrong password:
			// the page must not tell which emails exist.
			page.Error = "login_failed"
			a.showLogin(w, r, http.StatusUnauthorized, page)
			return
		}

		if staff.TOTPEnabled {
			// The failures stay counted until the code is right too: if the
			// password cleared them, each new login would grant another
			// round of guesses at the code.
			if err := a.startSession(ctx, w, r, staff.ID, true); err != nil {
				a.serverError(w, r, err)
				return
			}
			a.clearLoginCookie(w)
			if info := infoFrom(ctx); info != nil {
				info.staffID = staff.ID
			}
			to := "/login/code"
			if page.Next != "/appeals" {
				to += "?next=" + url.QueryEscape(page.Next)
			}
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		a.finishLogin(w, r, st, staff, page.Next, "")
	})
}

// finishLogin starts the full session of an account whose password (and
// authenticator code, when it has one) was right, and sends the browser on.
func (a *app) finishLogin(w http.ResponseWriter, r *http.Request, st loginStore, staff migrantbot.Staff, next, detail string) {
	ctx := r.Context()
	if err := st.ClearLoginFailures(ctx, staff.Email); err != nil {
		a.serverError(w, r, fmt.Errorf("console: login: %w", err))
		return
	}
	if err := st.RecordLogin(ctx, staff.ID); err != nil {
		a.serverError(w, r, fmt.Errorf("console: login: %w", err))
		return
	}
	if err := a.startSession(ctx, w, r, staff.ID, false); err != nil {
		a.serverError(w, r, err)
		return
	}
	a.clearLoginCookie(w)
	if info := infoFrom(ctx); info != nil {
		info.staffID = staff.ID
	}
	if err := st.Audit(ctx, migrantbot.AuditEntry{
		At: a.deps.Now(), Actor: staff.Email, Action: "login", Target: staff.Email, Detail: detail, IP: clientIP(r),
	}); err != nil {
		a.serverError(w, r, fmt.Errorf("console: login: audit: %w", err))
		return
	}
	to := localPath(next)
	if staff.MustChangePassword {
		to = "/password"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (a *app) clearLoginCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1,
		HttpOnly: true, Secure: a.deps.Secure, SameSite: http.SameSiteStrictMode})
}

func (a *app) handleLogout(st loginStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := st.DeleteStaffSession(ctx, tokenHash(a.cookieToken(r))); err != nil &&
			migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
			a.serverError(w, r, fmt.Errorf("console: logout: %w", err))
			return
		}
		a.logAuditError(r, a.audit(ctx, r, "logout", sessionFrom(ctx).Staff.Email, ""))
		a.clearSessionCookie(w)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

type passwordPage struct {
	Forced bool
	Error  string // message id
}

func (a *app) handlePasswordPage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionFrom(r.Context())
		a.render(w, r, http.StatusOK, "password", a.newView(r, "password_title", &passwordPage{Forced: s.Staff.MustChangePassword}))
	})
}

// handlePasswordChange sets a new password after checking the current one,
// ends every other session of the account (one opened with the old password
// must not outlive it), and replaces this one, so a token seen before the
// change is worthless.
func (a *app) handlePasswordChange(st loginStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		page := &passwordPage{Forced: s.Staff.MustChangePassword}
		fail := func(status int, id string) {
			page.Error = id
			a.render(w, r, status, "password", a.newView(r, "password_title", page))
		}
		current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
		_, hash, err := st.StaffByEmail(ctx, s.Staff.Email)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: change password: %w", err))
			return
		}
		switch {
		case !checkPassword(current, hash):
			fail(http.StatusUnprocessableEntity, "password_wrong")
			return
		case len([]rune(next)) < MinPasswordLength:
			fail(http.StatusUnprocessableEntity, "password_short")
			return
		case next != again:
			fail(http.StatusUnprocessableEntity, "password_mismatch")
			return
		case next == current:
			fail(http.StatusUnprocessableEntity, "password_same")
			return
		}
		newHash, err := HashPassword(next)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		if err := st.SetPassword(ctx, s.Staff.ID, newHash, false); err != nil {
			a.serverError(w, r, fmt.Errorf("console: change password: %w", err))
			return
		}
		if err := a.audit(ctx, r, "password.change", s.Staff.Email, ""); err != nil {
			a.serverError(w, r, err)
			return
		}
		if err := a.endOtherSessions(ctx, r, st, s); err != nil {
			a.serverError(w, r, fmt.Errorf("console: change password: %w", err))
			return
		}
		if err := st.DeleteStaffSession(ctx, tokenHash(a.cookieToken(r))); err != nil {
			a.serverError(w, r, fmt.Errorf("console: change password: %w", err))
			return
		}
		if err := a.startSession(ctx, w, r, s.Staff.ID, false); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.redirectBack(w, r, "/appeals", "ok", "flash_password_changed")
	})
}
