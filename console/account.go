package console

import (
	"fmt"
	"net/http"
	"strconv"

	"migrantbot"
)

// accountPage is a staff member's own page: the authenticator and the
// sessions signed in.
type accountPage struct {
	TOTPEnabled bool
	TOTPPending bool // an enrollment was started and not finished
	Required    bool // STAFF_TOTP=required for this account
	Sessions    []migrantbot.StaffSession
	CurrentID   int64
}

// accountStore is what the account page needs.
type accountStore interface {
	Sessions
	SecondFactor
}

func (a *app) handleAccount(st accountStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		p := &accountPage{
			TOTPEnabled: s.Staff.TOTPEnabled, CurrentID: s.ID,
			Required: a.deps.RequireTOTP && s.Staff.Role == migrantbot.RoleAdmin,
		}
		if !p.TOTPEnabled {
			_, _, _, err := st.StaffTOTP(ctx, s.Staff.ID)
			switch migrantbot.ErrorCode(err) {
			case "":
				p.TOTPPending = true
			case migrantbot.ENOTFOUND:
			default:
				a.serverError(w, r, fmt.Errorf("console: account: %w", err))
				return
			}
		}
		list, err := st.ListStaffSessions(ctx, s.Staff.ID, IdleTimeout, AbsoluteTimeout)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: account: %w", err))
			return
		}
		p.Sessions = list
		a.render(w, r, http.StatusOK, "account", a.newView(r, "account_title", p))
	})
}

// handleSessionEnd signs out one session of the staff member's own, named by
// its ID; another account's session is not found. Ending the current one is
// a logout.
func (a *app) handleSessionEnd(st Sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			a.errorPage(w, r, http.StatusNotFound, "error_not_found")
			return
		}
		if err := st.DeleteStaffSessionByID(ctx, s.Staff.ID, id); err != nil {
			a.storeError(w, r, fmt.Errorf("console: end session: %w", err))
			return
		}
		if err := a.audit(ctx, r, "session.end", s.Staff.Email, "session="+strconv.FormatInt(id, 10)); err != nil {
			a.serverError(w, r, err)
			return
		}
		if id == s.ID {
			a.clearSessionCookie(w)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		a.redirectBack(w, r, "/account", "ok", "flash_session_ended")
	})
}

// handleSessionEndOthers signs out every session of the staff member but
// the one making the request.
func (a *app) handleSessionEndOthers(st Sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := sessionFrom(ctx)
		n, err := st.DeleteStaffSessions(ctx, s.Staff.ID, s.ID)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: end other sessions: %w", err))
			return
		}
		if err := a.audit(ctx, r, "session.end_others", s.Staff.Email, "count="+strconv.Itoa(n)); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.redirectBack(w, r, "/account", "ok", "flash_sessions_ended")
	})
}

// handleStaffSessionsEnd is an admin signing out every session of an
// account, say a laptop left open or stolen.
func (a *app) handleStaffSessionsEnd(accounts Accounts, st Sessions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		target, ok := a.staffOfPath(w, r, accounts)
		if !ok {
			return
		}
		n, err := st.DeleteStaffSessions(ctx, target.ID, 0)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: end sessions of staff %d: %w", target.ID, err))
			return
		}
		if err := a.audit(ctx, r, "staff.sessions_end", target.Email, "count="+strconv.Itoa(n)); err != nil {
			a.serverError(w, r, err)
			return
		}
		if target.ID == sessionFrom(ctx).Staff.ID {
			a.clearSessionCookie(w)
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		a.redirectBack(w, r, "/staff", "ok", "flash_sessions_ended")
	})
}
