// Package console is the staff web console: the office's staff log in, work
// the appeals the bot collects (assign, change status, refer, note, reply to
// the person), export them and see statistics.
//
// It is server-rendered HTML (html/template, embedded templates and one small
// stylesheet), usable without JavaScript. It reads and writes only through the
// Store interfaces declared here, which cmd wires to the store package, and it
// reaches people through the store's outbox with the texts of a
// migrantbot.Notifier. Every view of an appeal, every change and every export
// is written to the audit log.
package console

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"migrantbot"
)

// Session limits: a session ends after 30 minutes without a request, and 12
// hours after login whatever happens.
const (
	IdleTimeout     = 30 * time.Minute
	AbsoluteTimeout = 12 * time.Hour
)

// Login throttling: a login is refused, before the password is even checked,
// after this many failures in ThrottleWindow for the account or for the
// address.
const (
	MaxFailuresPerAccount = 5
	MaxFailuresPerIP      = 20
	ThrottleWindow        = 15 * time.Minute
)

// The daily cap on authenticator codes: the throttle alone lets someone who
// has the password guess codes slowly for days. After MaxCodeFailuresPerDay
// wrong codes in CodeFailureWindow, counted since the authenticator was last
// set up, every code of the account is refused, right or wrong, until an
// admin resets the authenticator or the failures grow old.
const (
	MaxCodeFailuresPerDay = 20
	CodeFailureWindow     = 24 * time.Hour
)

// Accounts manages the staff accounts.
type Accounts interface {
	// CreateStaff adds an account. Returns ECONFLICT if the email exists
	// (compared case-insensitively).
	CreateStaff(ctx context.Context, email string, role migrantbot.Role, passwordHash string, mustChange bool) (migrantbot.Staff, error)
	// StaffByEmail returns an account and its password hash. Returns
	// ENOTFOUND when there is no such account.
	StaffByEmail(ctx context.Context, email string) (migrantbot.Staff, string, error)
	// StaffByID returns an account. Returns ENOTFOUND when there is none.
	StaffByID(ctx context.Context, id int64) (migrantbot.Staff, error)
	// ListStaff returns every account.
	ListStaff(ctx context.Context) ([]migrantbot.Staff, error)
	// SetStaffDisabled disables or enables an account; disabling also ends
	// its sessions.
	SetStaffDisabled(ctx context.Context, id int64, disabled bool) error
	// SetPassword replaces the password hash of an account.
	SetPassword(ctx context.Context, id int64, passwordHash string, mustChange bool) error
	// SetStaffLang saves the console language of an account.
	SetStaffLang(ctx context.Context, id int64, lang string) error
	// RecordLogin notes that the account has just logged in.
	RecordLogin(ctx context.Context, id int64) error
}

// SecondFactorTimeout is how long a session may wait for the
// authenticator code after a correct password.
const SecondFactorTimeout = 5 * time.Minute

// Sessions keeps the logged-in browser sessions. The console gives it only
// the SHA-256 of the cookie's token, never the token itself, and names
// sessions in its pages by their IDs.
type Sessions interface {
	// CreateStaffSession stores a new session; a pending one waits for the
	// account's authenticator code and opens nothing else. Returns ENOTFOUND
	// if the account does not exist or is disabled.
	CreateStaffSession(ctx context.Context, staffID int64, tokenHash, csrf, ip string, pending bool) error
	// StaffSession returns the session of tokenHash and notes it was seen.
	// Returns ENOTFOUND when it is missing, has expired (idle or absolute)
	// or its account is disabled.
	StaffSession(ctx context.Context, tokenHash string, idle, absolute time.Duration) (migrantbot.StaffSession, error)
	// DeleteStaffSession ends a session.
	DeleteStaffSession(ctx context.Context, tokenHash string) error
	// ListStaffSessions returns the sessions of an account that have not
	// expired, most recently used first, without their CSRF tokens.
	ListStaffSessions(ctx context.Context, staffID int64, idle, absolute time.Duration) ([]migrantbot.StaffSession, error)
	// DeleteStaffSessionByID ends one session of an account. Returns
	// ENOTFOUND if the account has no session of that ID.
	DeleteStaffSessionByID(ctx context.Context, staffID, id int64) error
	// DeleteStaffSessions ends every session of an account but the one with
	// the ID keep (0 keeps none) and returns how many it ended.
	DeleteStaffSessions(ctx context.Context, staffID, keep int64) (int, error)
}

// SecondFactor keeps the TOTP secrets of the accounts that use an
// authenticator app.
type SecondFactor interface {
	// StaffTOTP returns the secret of an account, whether it is switched on
	// (false during enrollment) and the time step of the last code
	// accepted. Returns ENOTFOUND when the account has no secret.
	StaffTOTP(ctx context.Context, staffID int64) (secret string, enabled bool, lastStep int64, err error)
	// BeginTOTP stores a new secret, not yet on, replacing an unfinished
	// enrollment. Returns ECONFLICT when TOTP is on.
	BeginTOTP(ctx context.Context, staffID int64, secret string) error
	// EnableTOTP switches on the pending secret, which a code of the time
	// step has just confirmed; the step counts as used. Returns ENOTFOUND
	// without a pending secret and ECONFLICT when TOTP is on already or the
	// pending secret is no longer the one given.
	EnableTOTP(ctx context.Context, staffID int64, secret string, step int64) error
	// UseTOTPStep records that a code of the time step was accepted.
	// Returns ECONFLICT when a code of this step or a later one was accepted
	// before (a replay) and ENOTFOUND when TOTP is off.
	UseTOTPStep(ctx context.Context, staffID, step int64) error
	// DisableTOTP switches TOTP off and forgets the secret.
	DisableTOTP(ctx context.Context, staffID int64) error
	// ResetTOTP switches TOTP off, forgets the secret and ends every
	// session of the account, for a lost authenticator.
	ResetTOTP(ctx context.Context, staffID int64) error
}

// Throttle counts failed logins.
type Throttle interface {
	// LoginFailures counts the failures since a time for an account and for
	// an address.
	LoginFailures(ctx context.Context, email, ip string, since time.Time) (byAccount, byIP int, err error)
	// RecordLoginFailure counts one failure.
	RecordLoginFailure(ctx context.Context, email, ip string) error
	// ClearLoginFailures forgets the failures of an account after a
	// successful login.
	ClearLoginFailures(ctx context.Context, email string) error
}

// Appeals reads appeals for the staff.
type Appeals interface {
	// ListAppeals returns one page of the filtered appeals, newest first,
	// with the counts per status of the filter without its status.
	ListAppeals(ctx context.Context, f migrantbot.AppealFilter) (migrantbot.AppealPage, error)
	// AppealDetail returns everything about one appeal. Returns ENOTFOUND
	// when there is no such appeal.
	AppealDetail(ctx context.Context, ref string) (migrantbot.AppealDetail, error)
	// ExportAppeals calls each for every appeal of the filter (its Limit and
	// cursor ignored), newest first, and stops at the first error.
	ExportAppeals(ctx context.Context, f migrantbot.AppealFilter, each func(a migrantbot.Appeal, assignee string) error) error
	// Stats returns the figures of the statistics page.
	Stats(ctx context.Context) (migrantbot.Stats, error)
}

// Actions changes appeals. Each call is one transaction with its thread
// entry, its audit entry and, when there is a message, its outbox row.
type Actions interface {
	// Assign gives an appeal to a staff member, or to nobody when staffID is
	// 0. Returns EINVALID for an unknown or disabled account.
	Assign(ctx context.Context, actor migrantbot.Staff, ref string, staffID int64) error
	// ChangeStatus moves an appeal to a new status and queues msg for the
	// person. Returns EINVALID for a move that is not allowed, and for a
	// rejection without a reason.
	ChangeStatus(ctx context.Context, actor migrantbot.Staff, ref string, to migrantbot.Status, reason string, msg *migrantbot.Message) error
	// Refer records a referral to a partner. Returns EINVALID for an
	// unknown partner or a missing date.
	Refer(ctx context.Context, actor migrantbot.Staff, ref string, r migrantbot.Referral) error
	// AddNote adds an internal note, never shown to the person.
	AddNote(ctx context.Context, actor migrantbot.Staff, ref, text string) error
	// Reply adds a reply to the thread and queues msg for the person.
	// Returns EINVALID when text is empty or longer than 4000 characters.
	Reply(ctx context.Context, actor migrantbot.Staff, ref, text string, msg migrantbot.Message) error
	// MarkSeen clears the appeal's news marker.
	MarkSeen(ctx context.Context, ref string) error
}

// AuditLog is the append-only record of what staff did.
type AuditLog interface {
	// Audit appends one entry.
	Audit(ctx context.Context, e migrantbot.AuditEntry) error
	// FindAudit returns the entries matching the filter, newest first.
	FindAudit(ctx context.Context, f migrantbot.AuditFilter) ([]migrantbot.AuditEntry, error)
}

// Store is everything the console needs from storage; *store.Store
// implements it.
type Store interface {
	Accounts
	Sessions
	SecondFactor
	Throttle
	Appeals
	Actions
	AuditLog
}

// Deps are what the console is built from.
type Deps struct {
	Store    Store
	Notifier migrantbot.Notifier
	// Files fetches the files people sent; nil shows a notice instead.
	Files  migrantbot.FileSource
	Logger *slog.Logger
	// Secure marks cookies Secure, for a console served over HTTPS.
	Secure bool
	// RequireTOTP makes the authenticator code mandatory for admins
	// (STAFF_TOTP=required): an admin without it is sent to set it up
	// before anything else. For reviewers it stays optional.
	RequireTOTP bool
	// BaseURL is the console's public address, e.g. https://console.example.org;
	// informational, links inside the console are relative.
	BaseURL string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Location is the time zone times are shown in; Baku time (UTC+4, no
	// daylight saving) when nil.
	Location *time.Location
	// Ready says whether the service can work (database reachable,
	// migrations current), for GET /readyz; nil is always ready.
	Ready func(ctx context.Context) error
}

// New returns the console's HTTP handler. It panics when Store or Notifier is
// missing or the embedded templates do not parse: both are programming errors
// that no request could recover from.
func New(deps Deps) http.Handler {
	if deps.Store == nil {
		panic("console: New: Deps.Store is nil")
	}
	if deps.Notifier == nil {
		panic("console: New: Deps.Notifier is nil")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Location == nil {
		deps.Location = time.FixedZone("AZT", 4*60*60)
	}
	app, err := newApp(deps)
	if err != nil {
		panic("console: New: " + err.Error())
	}
	return app.handler()
}
