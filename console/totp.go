package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"migrantbot"
)

// The optional second factor: a time-based one-time code (RFC 6238) of an
// authenticator app, six digits every 30 seconds, SHA-1, which is what every
// common app reads from a QR code. The secret is shown once, during
// enrollment; after that no page shows it again.

// totpIssuer names the console in the authenticator app.
const totpIssuer = "migrantbot console"

// totpPeriod is the length of a time step in seconds.
const totpPeriod = 30

var totpOptions = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpStep returns the time step of a moment.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchTOTP returns the time step whose code code is, looking one step
// either side of now (clocks of phones drift), newest first, and only at
// steps after lastStep: a code of a step already used is refused, so a code
// cannot be used twice. ok is false when no step matches.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != totpOptions.Digits.Length() {
		return 0, false
	}
	cur := totpStep(now)
	for s := cur + 1; s >= cur-1; s-- {
		if s <= lastStep {
			break
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOptions)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}

// totpURL is the otpauth:// address an authenticator app reads from the QR
// code.
func totpURL(email, secret string) string {
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", totpIssuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", strconv.Itoa(totpPeriod))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + email, RawQuery: v.Encode()}
	return u.String()
}

// codeStore is what checking a code needs.
type codeStore interface {
	SecondFactor
	Throttle
	AuditLog
}

// codeResult is the outcome of checking an authenticator code.
type codeResult int

const (
	codeOK codeResult = iota
	codeWrong
	codeThrottled
	// codeLocked: the account reached the daily cap of wrong codes.
	codeLocked
)

// checkCode checks a code of an account whose TOTP is on and uses it up.
// Failures count in the login throttle, for the account and the address, so
// that guessing codes is as slow as guessing passwords, and in the daily cap
// (they are audited as totp.failed), so that it cannot go on for days.
func (a *app) checkCode(ctx context.Context, r *http.Request, st codeStore, staff migrantbot.Staff, code string) (codeResult, error) {
	ip := clientIP(r)
	byAccount, byIP, err := st.LoginFailures(ctx, staff.Email, ip, a.deps.Now().Add(-ThrottleWindow))
	if err != nil {
		return 0, err
	}
	throttled := byAccount >= MaxFailuresPerAccount || byIP >= MaxFailuresPerIP
	locked, err := a.codesLocked(ctx, st, staff)
	if err != nil {
		return 0, err
	}
	if locked {
		// A refusal counts in the throttle like a failure, and is audited
		// only while the throttle allows: hammering the form cannot flood
		// the audit log.
		if !throttled {
			if err := st.RecordLoginFailure(ctx, staff.Email, ip); err != nil {
				return 0, err
			}
			if err := a.audit(ctx, r, "totp.locked", staff.Email, ""); err != nil {
				return 0, err
			}
		}
		return codeLocked, nil
	}
	if throttled {
		return codeThrottled, nil
	}
	secret, enabled, last, err := st.StaffTOTP(ctx, staff.ID)
	if err != nil && migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
		return 0, err
	}
	if err == nil && enabled {
		if step, ok := matchTOTP(secret, code, a.deps.Now(), last); ok {
			err := st.UseTOTPStep(ctx, staff.ID, step)
			if err == nil {
				return codeOK, nil
			}
			// ECONFLICT: the same code was just used by another request.
			if migrantbot.ErrorCode(err) != migrantbot.ECONFLICT {
				return 0, err
			}
		}
	}
	if err := st.RecordLoginFailure(ctx, staff.Email, ip); err != nil {
		return 0, err
	}
	if err := a.audit(ctx, r, "totp.failed", staff.Email, ""); err != nil {
		return 0, err
	}
	return codeWrong, nil
}

// codesLocked reports whether an account has reached the daily cap of wrong
// codes. It counts the totp.failed entries of the audit log rather than the
// throttle's failures: those include wrong passwords, which anyone can type
// for any email, and a full login clears them. Only failures after the
// latest enrollment count, so that an admin's reset, after which the
// account sets the authenticator up again, lifts the lock.
func (a *app) codesLocked(ctx context.Context, st AuditLog, staff migrantbot.Staff) (bool, error) {
	from := a.deps.Now().Add(-CodeFailureWindow)
	enrolled, err := st.FindAudit(ctx, migrantbot.AuditFilter{Action: "totp.enroll", Target: staff.Email, Limit: 1})
	if err != nil {
		return false, fmt.Errorf("console: count code failures: %w", err)
	}
	if len(enrolled) > 0 && enrolled[0].At.After(from) {
		from = enrolled[0].At
	}
	failed, err := st.FindAudit(ctx, migrantbot.AuditFilter{
		Action: "totp.failed", Target: staff.Email, From: from, Limit: MaxCodeFailuresPerDay,
	})
	if err != nil {
		return false, fmt.Errorf("console: count code failures: %w", err)
	}
	return len(failed) >= MaxCodeFailuresPerDay, nil
}

type codePage struct {
	Next  string
	Error string // message id
}

func (a *app) handleCodePage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &codePage{Next: localPath(r.URL.Query().Get("next"))}
		a.render(w, r, http.StatusOK, "code", a.newView(r, "code_title", p))
	})
}

// handleCode checks the code of a pending session and replaces the session
// by a full one (a new token: the pending one is worth nothing afterwards).
func (a *app) handleCode(st loginCodeStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		p := &codePage{Next: localPath(r.PostFormValue("next"))}
		res, err := a.checkCode(ctx, r, st, s.Staff, r.PostFormValue("code"))
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: login code: %w", err))
			return
		}
		switch res {
		case codeLocked:
			p.Error = "code_locked"
			a.render(w, r, http.StatusLocked, "code", a.newView(r, "code_title", p))
			return
		case codeThrottled:
			p.Error = "login_throttled"
			a.render(w, r, http.StatusTooManyRequests, "code", a.newView(r, "code_title", p))
			return
		case codeWrong:
			p.Error = "code_wrong"
			a.render(w, r, http.StatusUnauthorized, "code", a.newView(r, "code_title", p))
			return
		}
		if err := st.DeleteStaffSession(ctx, tokenHash(a.cookieToken(r))); err != nil {
			a.serverError(w, r, fmt.Errorf("console: login code: %w", err))
			return
		}
		a.finishLogin(w, r, st, s.Staff, p.Next, "totp")
	})
}

// loginCodeStore is what the code form needs.
type loginCodeStore interface {
	loginStore
	SecondFactor
}

type totpPage struct {
	// Secret is the pending secret, in groups of four for typing; empty
	// before enrollment starts.
	Secret   string
	Required bool // STAFF_TOTP=required and an admin without it
	Error    string
}

// groupSecret writes a base32 secret in groups of four characters, as
// authenticator apps show it.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// showTOTP renders the enrollment page, or sends an account whose TOTP is
// on to its account page.
func (a *app) showTOTP(w http.ResponseWriter, r *http.Request, st SecondFactor, status int, p *totpPage) {
	s := sessionFrom(r.Context())
	secret, enabled, _, err := st.StaffTOTP(r.Context(), s.Staff.ID)
	switch {
	case migrantbot.ErrorCode(err) == migrantbot.ENOTFOUND:
	case err != nil:
		a.serverError(w, r, fmt.Errorf("console: totp page: %w", err))
		return
	case enabled:
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	default:
		p.Secret = groupSecret(secret)
	}
	p.Required = a.needsTOTP(s.Staff)
	a.render(w, r, status, "totp", a.newView(r, "totp_title", p))
}

func (a *app) handleTOTPPage(st SecondFactor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.showTOTP(w, r, st, http.StatusOK, &totpPage{})
	})
}

// handleTOTPStart makes a new secret for the account and shows it. It is a
// POST, not part of showing the page, so that no GET changes anything.
func (a *app) handleTOTPStart(st SecondFactor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionFrom(r.Context())
		key, err := totp.Generate(totp.GenerateOpts{
			Issuer: totpIssuer, AccountName: s.Staff.Email, Period: totpPeriod,
			Digits: totpOptions.Digits, Algorithm: totpOptions.Algorithm,
		})
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp start: %w", err))
			return
		}
		err = st.BeginTOTP(r.Context(), s.Staff.ID, key.Secret())
		switch migrantbot.ErrorCode(err) {
		case "":
		case migrantbot.ECONFLICT:
			a.redirectBack(w, r, "/account", "error", "totp_already_on")
			return
		default:
			a.serverError(w, r, fmt.Errorf("console: totp start: %w", err))
			return
		}
		http.Redirect(w, r, "/account/totp", http.StatusSeeOther)
	})
}

// handleTOTPQR serves the QR code of the pending secret as a PNG from its
// own authenticated route, so that the strict Content-Security-Policy needs
// no data: images. Once TOTP is on the secret is not shown again: 404.
func (a *app) handleTOTPQR(st SecondFactor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := sessionFrom(r.Context())
		secret, enabled, _, err := st.StaffTOTP(r.Context(), s.Staff.ID)
		if err == nil && enabled {
			err = migrantbot.Errorf(migrantbot.ENOTFOUND, "totp is on")
		}
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: totp qr: %w", err))
			return
		}
		key, err := otp.NewKeyFromURL(totpURL(s.Staff.Email, secret))
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp qr: %w", err))
			return
		}
		img, err := key.Image(240, 240)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp qr: %w", err))
			return
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp qr: %w", err))
			return
		}
		w.Header().Set("Content-Type", "image/png")
		_, _ = buf.WriteTo(w)
	})
}

// handleTOTPConfirm switches TOTP on once a code of the pending secret
// proves the app has it, and ends every other session of the account: one
// opened with a stolen password must not outlive the second factor that
// was set up against it.
func (a *app) handleTOTPConfirm(st totpConfirmStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		secret, enabled, _, err := st.StaffTOTP(ctx, s.Staff.ID)
		switch {
		case migrantbot.ErrorCode(err) == migrantbot.ENOTFOUND:
			a.redirectBack(w, r, "/account/totp", "error", "totp_not_started")
			return
		case err != nil:
			a.serverError(w, r, fmt.Errorf("console: totp confirm: %w", err))
			return
		case enabled:
			a.redirectBack(w, r, "/account", "error", "totp_already_on")
			return
		}
		step, ok := matchTOTP(secret, r.PostFormValue("code"), a.deps.Now(), 0)
		if !ok {
			a.showTOTP(w, r, st, http.StatusUnprocessableEntity, &totpPage{Error: "code_wrong"})
			return
		}
		err = st.EnableTOTP(ctx, s.Staff.ID, secret, step)
		switch migrantbot.ErrorCode(err) {
		case "":
		case migrantbot.ECONFLICT, migrantbot.ENOTFOUND:
			// Another tab restarted or finished the enrollment meanwhile.
			a.redirectBack(w, r, "/account/totp", "error", "totp_not_started")
			return
		default:
			a.serverError(w, r, fmt.Errorf("console: totp confirm: %w", err))
			return
		}
		if err := a.audit(ctx, r, "totp.enroll", s.Staff.Email, ""); err != nil {
			a.serverError(w, r, err)
			return
		}
		if err := a.endOtherSessions(ctx, r, st, s); err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp confirm: %w", err))
			return
		}
		a.redirectBack(w, r, "/account", "ok", "flash_totp_on")
	})
}

// totpConfirmStore is what switching TOTP on needs.
type totpConfirmStore interface {
	SecondFactor
	Sessions
}

// endOtherSessions ends every session of the request's account but its own,
// after a change of its credentials, and audits how many it ended.
func (a *app) endOtherSessions(ctx context.Context, r *http.Request, st Sessions, s *migrantbot.StaffSession) error {
	n, err := st.DeleteStaffSessions(ctx, s.Staff.ID, s.ID)
	if err != nil {
		return err
	}
	return a.audit(ctx, r, "session.end_others", s.Staff.Email, "count="+strconv.Itoa(n))
}

// handleTOTPDisable switches TOTP off with a current code, or abandons an
// unfinished enrollment. An admin cannot switch it off while
// STAFF_TOTP=required.
func (a *app) handleTOTPDisable(st codeStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		if !s.Staff.TOTPEnabled {
			if err := st.DisableTOTP(ctx, s.Staff.ID); err != nil {
				a.serverError(w, r, fmt.Errorf("console: totp cancel: %w", err))
				return
			}
			a.redirectBack(w, r, "/account", "", "")
			return
		}
		if a.deps.RequireTOTP && s.Staff.Role == migrantbot.RoleAdmin {
			a.redirectBack(w, r, "/account", "error", "totp_required_on")
			return
		}
		res, err := a.checkCode(ctx, r, st, s.Staff, r.PostFormValue("code"))
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp disable: %w", err))
			return
		}
		switch res {
		case codeLocked:
			a.redirectBack(w, r, "/account", "error", "code_locked")
			return
		case codeThrottled:
			a.redirectBack(w, r, "/account", "error", "login_throttled")
			return
		case codeWrong:
			a.redirectBack(w, r, "/account", "error", "code_wrong")
			return
		}
		if err := st.DisableTOTP(ctx, s.Staff.ID); err != nil {
			a.serverError(w, r, fmt.Errorf("console: totp disable: %w", err))
			return
		}
		if err := a.audit(ctx, r, "totp.disable", s.Staff.Email, ""); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.redirectBack(w, r, "/account", "ok", "flash_totp_off")
	})
}

// handleStaffTOTPReset is an admin's help for a lost authenticator: TOTP
// off, secret forgotten, every session of the account ended. It is for
// another's account only: one's own is switched off with a code, and not at
// all by an admin while STAFF_TOTP=required.
func (a *app) handleStaffTOTPReset(accounts Accounts, st SecondFactor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		target, ok := a.staffOfPath(w, r, accounts)
		if !ok {
			return
		}
		if target.ID == sessionFrom(ctx).Staff.ID {
			a.redirectBack(w, r, "/staff", "error", "staff_totp_reset_not_self")
			return
		}
		if err := st.ResetTOTP(ctx, target.ID); err != nil {
			a.storeError(w, r, fmt.Errorf("console: reset totp of staff %d: %w", target.ID, err))
			return
		}
		if err := a.audit(ctx, r, "totp.reset", target.Email, ""); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.redirectBack(w, r, "/staff", "ok", "flash_totp_reset")
	})
}

// staffOfPath reads the account named by the path's {id}, answering 404
// itself when there is none.
func (a *app) staffOfPath(w http.ResponseWriter, r *http.Request, accounts Accounts) (migrantbot.Staff, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		a.errorPage(w, r, http.StatusNotFound, "error_not_found")
		return migrantbot.Staff{}, false
	}
	target, err := accounts.StaffByID(r.Context(), id)
	if err != nil {
		a.storeError(w, r, fmt.Errorf("console: staff %d: %w", id, err))
		return migrantbot.Staff{}, false
	}
	return target, true
}
