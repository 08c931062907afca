package console

import (
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"migrantbot"
)

type staffPage struct {
	Staff []migrantbot.Staff
	// Created is the account just added, with its one-time password, shown
	// on this one answer and never again.
	Created  *migrantbot.Staff
	Password string
	Email    string // the form's value after a refusal
	Role     string
	Error    string // message id
	MeID     int64
}

// showStaff renders the accounts page around p.
func (a *app) showStaff(w http.ResponseWriter, r *http.Request, st staffLister, status int, p *staffPage) {
	all, err := st.ListStaff(r.Context())
	if err != nil {
		a.serverError(w, r, fmt.Errorf("console: list staff: %w", err))
		return
	}
	p.Staff = all
	p.MeID = sessionFrom(r.Context()).Staff.ID
	if p.Role == "" {
		p.Role = string(migrantbot.RoleReviewer)
	}
	a.render(w, r, status, "staff", a.newView(r, "staff_title", p))
}

func (a *app) handleStaffList(st staffLister) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.showStaff(w, r, st, http.StatusOK, &staffPage{})
	})
}

// handleStaffAdd creates an account with a one-time password and shows the
// password in its answer. Not Post/Redirect/Get on purpose: the password
// must not travel in a URL or a cookie, and reloading only gets a refusal
// (the email exists) instead of a second account.
func (a *app) handleStaffAdd(accounts Accounts, st staffLister) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		email := strings.ToLower(strings.TrimSpace(r.PostFormValue("email")))
		role := migrantbot.Role(r.PostFormValue("role"))
		p := &staffPage{Email: email, Role: string(role)}
		if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 {
			p.Error = "staff_bad_email"
			a.showStaff(w, r, st, http.StatusUnprocessableEntity, p)
			return
		}
		if role != migrantbot.RoleAdmin && role != migrantbot.RoleReviewer {
			p.Error = "staff_bad_role"
			a.showStaff(w, r, st, http.StatusUnprocessableEntity, p)
			return
		}
		password := NewPassword()
		hash, err := HashPassword(password)
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		created, err := accounts.CreateStaff(ctx, email, role, hash, true)
		switch migrantbot.ErrorCode(err) {
		case "":
		case migrantbot.ECONFLICT:
			p.Error = "staff_exists"
			a.showStaff(w, r, st, http.StatusConflict, p)
			return
		default:
			a.serverError(w, r, fmt.Errorf("console: add staff: %w", err))
			return
		}
		if err := a.audit(ctx, r, "staff.add", created.Email, "role="+string(created.Role)); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.showStaff(w, r, st, http.StatusOK, &staffPage{Created: &created, Password: password})
	})
}

// handleStaffDisabled disables or enables an account. An admin cannot
// disable their own account, which could leave the office without one.
func (a *app) handleStaffDisabled(accounts Accounts, st staffLister, disable bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			a.errorPage(w, r, http.StatusNotFound, "error_not_found")
			return
		}
		if disable && id == sessionFrom(ctx).Staff.ID {
			a.redirectBack(w, r, "/staff", "error", "staff_not_self")
			return
		}
		target, err := accounts.StaffByID(ctx, id)
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: staff %d: %w", id, err))
			return
		}
		if err := accounts.SetStaffDisabled(ctx, id, disable); err != nil {
			a.storeError(w, r, fmt.Errorf("console: staff %d: %w", id, err))
			return
		}
		action, okID := "staff.enable", "flash_staff_enabled"
		if disable {
			action, okID = "staff.disable", "flash_staff_disabled"
		}
		if err := a.audit(ctx, r, action, target.Email, ""); err != nil {
			a.serverError(w, r, err)
			return
		}
		a.redirectBack(w, r, "/staff", "ok", okID)
	})
}
