package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/alexedwards/argon2id"

	"migrantbot"
)

// HashPassword hashes a password with argon2id (the library's default
// parameters: 64 MiB, one pass, two lanes), in the PHC string format the
// store keeps.
func HashPassword(password string) (string, error) {
	h, err := argon2id.CreateHash(password, argon2id.DefaultParams)
	if err != nil {
		return "", fmt.Errorf("console: hash password: %w", err)
	}
	return h, nil
}

// checkPassword reports whether password matches hash; a malformed hash
// matches nothing.
func checkPassword(password, hash string) bool {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// passwordAlphabet leaves out letters that are easy to misread (0/O, 1/l/I).
const passwordAlphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewPassword returns a random one-time password of 16 characters (about 92
// bits), for a new account or a reset; it must be changed at first login.
func NewPassword() string {
	return randomString(16)
}

func randomString(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms (it panics
	// itself when the system's generator is broken).
	_, _ = rand.Read(b)
	out := make([]byte, n)
	for i, c := range b {
		// 256 is not a multiple of the alphabet's length: reject the top
		// values to keep the choice uniform.
		for int(c) >= 256-256%len(passwordAlphabet) {
			var one [1]byte
			_, _ = rand.Read(one[:])
			c = one[0]
		}
		out[i] = passwordAlphabet[int(c)%len(passwordAlphabet)]
	}
	return string(out)
}

// MinPasswordLength is the shortest password staff may choose.
const MinPasswordLength = 12

// newToken returns 32 random bytes as URL-safe base64: a session token or a
// CSRF token.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is what the store keeps of a session token: a stolen database
// copy holds no usable cookie.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sessionCookieName is __Host- prefixed over HTTPS, which makes browsers
// refuse a cookie of that name set by a subdomain or without Secure.
func (a *app) sessionCookieName() string {
	if a.deps.Secure {
		return "__Host-mb_session"
	}
	return "mb_session"
}

// setSessionCookie gives the browser a session token. SameSite=Lax, not
// Strict: the staff Telegram group links to appeals in the console, and with
// Strict a click on such a link would arrive without the cookie and land on
// the login page. Lax still keeps the cookie off cross-site POSTs, and every
// POST form carries the session's CSRF token besides.
func (a *app) setSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name: a.sessionCookieName(), Value: token, Path: "/",
		MaxAge:   int(AbsoluteTimeout.Seconds()),
		HttpOnly: true, Secure: a.deps.Secure, SameSite: http.SameSiteLaxMode,
	})
}

func (a *app) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: a.sessionCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.deps.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// startSession creates a session for an account and sets its cookie; a
// pending one waits for the authenticator code.
func (a *app) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, staffID int64, pending bool) error {
	token := newToken()
	if err := a.deps.Store.CreateStaffSession(ctx, staffID, tokenHash(token), newToken(), clientIP(r), pending); err != nil {
		return fmt.Errorf("console: start session of staff %d: %w", staffID, err)
	}
	a.setSessionCookie(w, token)
	return nil
}

// cookieToken returns the session token the browser sent, or "".
func (a *app) cookieToken(r *http.Request) string {
	c, err := r.Cookie(a.sessionCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

// clientIP is the address the request came from. The console trusts no
// X-Forwarded-For: behind a proxy every request shares the proxy's address,
// and only the per-account limit of the throttle is then effective.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type sessionKey struct{}

// sessionFrom returns the logged-in session of a request, or nil.
func sessionFrom(ctx context.Context) *migrantbot.StaffSession {
	s, _ := ctx.Value(sessionKey{}).(*migrantbot.StaffSession)
	return s
}

// access says who may use a route.
type access int

const (
	// public routes need no session: login, static files, health.
	public access = iota
	// staffOnly routes need a session whose password is not a one-time one.
	staffOnly
	// anySession routes need a session, even one that must still change
	// its one-time password or set up a required authenticator (the
	// change-password page itself, the language).
	anySession
	// enrolling routes, the authenticator's setup, need a session whose
	// password is not a one-time one, even of an admin who must still set up
	// the authenticator STAFF_TOTP=required asks for.
	enrolling
	// adminOnly routes need an admin's session.
	adminOnly
	// secondFactor routes, the authenticator code form, need a pending
	// session: password right, code still to come. Every other route
	// refuses such a session, but for leaving ones.
	secondFactor
	// leaving routes, the logout, need a session of any kind, a pending one
	// too: a person may give up at the code form and leave no session
	// behind.
	leaving
)

// guard wraps a route's handler with its access rule: the session, the
// password change a one-time password forces, the role, and the CSRF token
// of every POST.
func (a *app) guard(acc access, next http.Handler) http.Handler {
	if acc == public {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token := a.cookieToken(r)
		if token == "" {
			a.noSession(w, r)
			return
		}
		sess, err := a.deps.Store.StaffSession(ctx, tokenHash(token), IdleTimeout, AbsoluteTimeout)
		if migrantbot.ErrorCode(err) == migrantbot.ENOTFOUND {
			a.clearSessionCookie(w)
			a.noSession(w, r)
			return
		}
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: read session: %w", err))
			return
		}
		// A pending session compares times of the database's clock only.
		if sess.Pending && sess.LastSeen.Sub(sess.CreatedAt) > SecondFactorTimeout {
			if err := a.deps.Store.DeleteStaffSession(ctx, tokenHash(token)); err != nil {
				a.serverError(w, r, fmt.Errorf("console: end expired pending session: %w", err))
				return
			}
			a.clearSessionCookie(w)
			a.noSession(w, r)
			return
		}
		if info := infoFrom(ctx); info != nil {
			info.staffID = sess.Staff.ID
		}
		ctx = context.WithValue(ctx, sessionKey{}, &sess)
		r = r.WithContext(ctx)

		if r.Method == http.MethodPost && !validCSRF(r, sess.CSRF) {
			a.errorPage(w, r, http.StatusForbidden, "error_csrf")
			return
		}
		switch {
		case acc == leaving:
			// Leaving needs nothing more than a session and the CSRF token
			// checked above.
			next.ServeHTTP(w, r)
			return
		case sess.Pending && acc != secondFactor:
			// The password alone opens nothing but the code form.
			if isRead(r) {
				http.Redirect(w, r, "/login/code", http.StatusSeeOther)
				return
			}
			a.errorPage(w, r, http.StatusUnauthorized, "error_code_needed")
			return
		case !sess.Pending && acc == secondFactor:
			// Already through: the code form has nothing left to do.
			http.Redirect(w, r, "/appeals", http.StatusSeeOther)
			return
		}
		if sess.Staff.MustChangePassword && acc != anySession && acc != secondFactor {
			if isRead(r) {
				http.Redirect(w, r, "/password", http.StatusSeeOther)
				return
			}
			a.errorPage(w, r, http.StatusForbidden, "error_change_password")
			return
		}
		if a.needsTOTP(sess.Staff) && acc != anySession && acc != enrolling && acc != secondFactor {
			if isRead(r) {
				http.Redirect(w, r, "/account/totp", http.StatusSeeOther)
				return
			}
			a.errorPage(w, r, http.StatusForbidden, "error_totp_required")
			return
		}
		if acc == adminOnly && sess.Staff.Role != migrantbot.RoleAdmin {
			a.errorPage(w, r, http.StatusForbidden, "error_forbidden")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// needsTOTP reports whether an account must set up the authenticator
// before it may do anything else.
func (a *app) needsTOTP(s migrantbot.Staff) bool {
	return a.deps.RequireTOTP && s.Role == migrantbot.RoleAdmin && !s.TOTPEnabled
}

func isRead(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }

// noSession sends a reader to the login page, returning here afterwards,
// and refuses a write outright: its form would be lost anyway.
func (a *app) noSession(w http.ResponseWriter, r *http.Request) {
	if isRead(r) {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	a.errorPage(w, r, http.StatusUnauthorized, "error_no_session")
}

// validCSRF compares the form's token with the session's in constant time.
func validCSRF(r *http.Request, want string) bool {
	got := r.PostFormValue("csrf")
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// localPath returns next when it is a path of this console, else "/appeals":
// a crafted login link must not send staff to another site.
func localPath(next string) string {
	// Browsers drop tabs and other control characters and read a backslash as
	// a slash, so "/\t/evil" would lead off the site.
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "/appeals"
	}
	return next
}
