package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"migrantbot"
)

// maxEmailBytes is the longest address SMTP allows.
const maxEmailBytes = 254

// loginFailureMemory is how long failed logins are kept for throttling.
const loginFailureMemory = 24 * time.Hour

const staffColumns = `s.id, s.email, s.role, s.lang, s.disabled, s.must_change_password, s.created_at, s.last_login_at,
	s.totp_enabled_at IS NOT NULL`

// scanStaff reads the columns of staffColumns, then extra.
func scanStaff(row pgx.Row, extra ...any) (migrantbot.Staff, error) {
	var (
		st        migrantbot.Staff
		role      string
		lastLogin *time.Time
	)
	dest := append([]any{&st.ID, &st.Email, &role, &st.Lang, &st.Disabled, &st.MustChangePassword, &st.CreatedAt, &lastLogin,
		&st.TOTPEnabled}, extra...)
	if err := row.Scan(dest...); err != nil {
		return migrantbot.Staff{}, err
	}
	st.Role = migrantbot.Role(role)
	if lastLogin != nil {
		st.LastLoginAt = *lastLogin
	}
	return st, nil
}

// CreateStaff creates a staff account with a password hash made by the
// console and English as its language. Returns ECONFLICT if an account has
// the email already, whatever its case, and EINVALID for an email without @,
// an unknown role or an empty hash.
func (s *Store) CreateStaff(ctx context.Context, email string, role migrantbot.Role, passwordHash string, mustChange bool) (migrantbot.Staff, error) {
	email = strings.TrimSpace(email)
	switch {
	case !strings.Contains(email, "@") || len(email) > maxEmailBytes:
		return migrantbot.Staff{}, migrantbot.Errorf(migrantbot.EINVALID, "staff email %q is not an address", email)
	case role != migrantbot.RoleAdmin && role != migrantbot.RoleReviewer:
		return migrantbot.Staff{}, migrantbot.Errorf(migrantbot.EINVALID, "unknown staff role %q", role)
	case passwordHash == "":
		return migrantbot.Staff{}, migrantbot.Errorf(migrantbot.EINVALID, "staff account without a password")
	}
	row := s.pool.QueryRow(ctx, `INSERT INTO staff AS s (email, role, password_hash, must_change_password)
		VALUES ($1, $2, $3, $4) RETURNING `+staffColumns, email, string(role), passwordHash, mustChange)
	st, err := scanStaff(row)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "staff_email_key" {
			err = migrantbot.Errorf(migrantbot.ECONFLICT, "a staff account with this email exists")
		}
		return migrantbot.Staff{}, fmt.Errorf("store: create staff %s: %w", email, err)
	}
	return st, nil
}

// StaffByEmail returns the account with the email, whatever its case, and
// its password hash. Returns ENOTFOUND if there is none.
func (s *Store) StaffByEmail(ctx context.Context, email string) (migrantbot.Staff, string, error) {
	var hash string
	row := s.pool.QueryRow(ctx, `SELECT `+staffColumns+`, s.password_hash FROM staff s WHERE lower(s.email) = lower($1)`,
		strings.TrimSpace(email))
	st, err := scanStaff(row, &hash)
	if err != nil {
		return migrantbot.Staff{}, "", fmt.Errorf("store: staff by email: %w", notFound(err, "no staff account with this email"))
	}
	return st, hash, nil
}

// StaffByID returns an account. Returns ENOTFOUND if there is none.
func (s *Store) StaffByID(ctx context.Context, id int64) (migrantbot.Staff, error) {
	st, err := scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffColumns+` FROM staff s WHERE s.id = $1`, id))
	if err != nil {
		return migrantbot.Staff{}, fmt.Errorf("store: staff %d: %w", id, notFound(err, "no staff account %d", id))
	}
	return st, nil
}

// ListStaff lists every account, disabled ones included, by email.
func (s *Store) ListStaff(ctx context.Context) ([]migrantbot.Staff, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+staffColumns+` FROM staff s ORDER BY lower(s.email), s.id`)
	if err != nil {
		return nil, fmt.Errorf("store: list staff: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.Staff, error) { return scanStaff(row) })
	if err != nil {
		return nil, fmt.Errorf("store: list staff: %w", err)
	}
	return list, nil
}

// SetStaffDisabled disables or enables an account. Disabling also ends every
// session of the account, in the same transaction, so that a disabled
// person's open browser is logged out at its next request. Returns ENOTFOUND
// if there is no such account.
func (s *Store) SetStaffDisabled(ctx context.Context, id int64, disabled bool) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE staff SET disabled = $2 WHERE id = $1`, id, disabled)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return migrantbot.Errorf(migrantbot.ENOTFOUND, "no staff account %d", id)
		}
		if disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1`, id); err != nil {
				return fmt.Errorf("end sessions: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: set staff %d disabled=%t: %w", id, disabled, err)
	}
	return nil
}

// SetPassword replaces the password hash of an account and says whether the
// password must be changed at the next login. Returns ENOTFOUND if there is
// no such account and EINVALID for an empty hash.
func (s *Store) SetPassword(ctx context.Context, id int64, passwordHash string, mustChange bool) error {
	if passwordHash == "" {
		return migrantbot.Errorf(migrantbot.EINVALID, "store: set password of staff %d: empty hash", id)
	}
	return s.updateStaff(ctx, id, "set password", `UPDATE staff SET password_hash = $2, must_change_password = $3 WHERE id = $1`,
		passwordHash, mustChange)
}

// SetStaffLang sets the console language of an account, one of
// migrantbot.Languages. Returns EINVALID for another language and ENOTFOUND
// if there is no such account.
func (s *Store) SetStaffLang(ctx context.Context, id int64, lang string) error {
	if !slices.Contains(migrantbot.Languages, lang) {
		return migrantbot.Errorf(migrantbot.EINVALID, "store: set language of staff %d: unknown language %q", id, lang)
	}
	return s.updateStaff(ctx, id, "set language", `UPDATE staff SET lang = $2 WHERE id = $1`, lang)
}

// RecordLogin records that the account logged in now. Returns ENOTFOUND if
// there is no such account.
func (s *Store) RecordLogin(ctx context.Context, id int64) error {
	return s.updateStaff(ctx, id, "record login", `UPDATE staff SET last_login_at = now() WHERE id = $1`)
}

func (s *Store) updateStaff(ctx context.Context, id int64, doing, sql string, args ...any) error {
	tag, err := s.pool.Exec(ctx, sql, append([]any{id}, args...)...)
	if err != nil {
		return fmt.Errorf("store: %s of staff %d: %w", doing, id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: %s of staff %d: %w", doing, id, migrantbot.Errorf(migrantbot.ENOTFOUND, "no staff account %d", id))
	}
	return nil
}

// CreateStaffSession stores a new session of an enabled account under the
// hash of its cookie token, with the CSRF token of its forms and the address
// it logged in from. A pending session still waits for the account's
// authenticator code. Returns ENOTFOUND if the account does not exist or is
// disabled, ECONFLICT if the token hash is taken.
func (s *Store) CreateStaffSession(ctx context.Context, staffID int64, tokenHash, csrf, ip string, pending bool) error {
	if tokenHash == "" || csrf == "" {
		return migrantbot.Errorf(migrantbot.EINVALID, "store: create session of staff %d: empty token", staffID)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO staff_sessions (token_hash, staff_id, csrf, ip, pending)
		SELECT $1, id, $3, $4, $5 FROM staff WHERE id = $2 AND NOT disabled`, tokenHash, staffID, csrf, ip, pending)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			err = migrantbot.Errorf(migrantbot.ECONFLICT, "session token taken")
		}
		return fmt.Errorf("store: create session of staff %d: %w", staffID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: create session of staff %d: %w", staffID,
			migrantbot.Errorf(migrantbot.ENOTFOUND, "no enabled staff account %d", staffID))
	}
	return nil
}

// StaffSession returns the session stored under tokenHash and marks it used
// now. A session unused for longer than idle, older than absolute, or of a
// disabled account is over: it is deleted and ENOTFOUND returned, as for a
// session that does not exist. Both timeouts must be positive (EINVALID).
func (s *Store) StaffSession(ctx context.Context, tokenHash string, idle, absolute time.Duration) (migrantbot.StaffSession, error) {
	if idle <= 0 || absolute <= 0 {
		return migrantbot.StaffSession{}, migrantbot.Errorf(migrantbot.EINVALID, "store: staff session: timeouts must be positive")
	}
	var sess migrantbot.StaffSession
	row := s.pool.QueryRow(ctx, `UPDATE staff_sessions ss SET last_seen = now()
		FROM staff s
		WHERE ss.token_hash = $1 AND s.id = ss.staff_id AND NOT s.disabled
			AND ss.last_seen > now() - $2::bigint * interval '1 microsecond'
			AND ss.created_at > now() - $3::bigint * interval '1 microsecond'
		RETURNING `+staffColumns+`, ss.id, ss.csrf, ss.ip, ss.created_at, ss.last_seen, ss.pending`,
		tokenHash, idle.Microseconds(), absolute.Microseconds())
	st, err := scanStaff(row, &sess.ID, &sess.CSRF, &sess.IP, &sess.CreatedAt, &sess.LastSeen, &sess.Pending)
	if err == nil {
		sess.Staff = st
		return sess, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return migrantbot.StaffSession{}, fmt.Errorf("store: staff session: %w", err)
	}
	// An expired session is of no use any more; removing it here keeps the
	// table small without a separate sweeper.
	if _, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return migrantbot.StaffSession{}, fmt.Errorf("store: staff session: delete expired: %w", err)
	}
	return migrantbot.StaffSession{}, fmt.Errorf("store: staff session: %w", migrantbot.Errorf(migrantbot.ENOTFOUND, "no such session"))
}

// DeleteStaffSession ends a session (logout). Ending a session that does not
// exist is not an error.
func (s *Store) DeleteStaffSession(ctx context.Context, tokenHash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1`, tokenHash); err != nil {
		return fmt.Errorf("store: delete staff session: %w", err)
	}
	return nil
}

// ListStaffSessions returns the sessions of an account that have not
// expired (see StaffSession), most recently used first, without their CSRF
// tokens.
func (s *Store) ListStaffSessions(ctx context.Context, staffID int64, idle, absolute time.Duration) ([]migrantbot.StaffSession, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+staffColumns+`, ss.id, ss.ip, ss.created_at, ss.last_seen, ss.pending
		FROM staff_sessions ss JOIN staff s ON s.id = ss.staff_id
		WHERE ss.staff_id = $1
			AND ss.last_seen > now() - $2::bigint * interval '1 microsecond'
			AND ss.created_at > now() - $3::bigint * interval '1 microsecond'
		ORDER BY ss.last_seen DESC, ss.id DESC`, staffID, idle.Microseconds(), absolute.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("store: list sessions of staff %d: %w", staffID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.StaffSession, error) {
		var sess migrantbot.StaffSession
		st, err := scanStaff(row, &sess.ID, &sess.IP, &sess.CreatedAt, &sess.LastSeen, &sess.Pending)
		sess.Staff = st
		return sess, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list sessions of staff %d: %w", staffID, err)
	}
	return list, nil
}

// DeleteStaffSessionByID ends one session of an account, named by its ID.
// Returns ENOTFOUND if the account has no such session, so that nobody ends
// another account's session by guessing its number.
func (s *Store) DeleteStaffSessionByID(ctx context.Context, staffID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1 AND id = $2`, staffID, id)
	if err != nil {
		return fmt.Errorf("store: end session %d of staff %d: %w", id, staffID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: end session %d of staff %d: %w", id, staffID,
			migrantbot.Errorf(migrantbot.ENOTFOUND, "no session %d of staff %d", id, staffID))
	}
	return nil
}

// DeleteStaffSessions ends every session of an account but the one with
// the ID keep (0 keeps none), and returns how many it ended.
func (s *Store) DeleteStaffSessions(ctx context.Context, staffID, keep int64) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1 AND id <> $2`, staffID, keep)
	if err != nil {
		return 0, fmt.Errorf("store: end sessions of staff %d: %w", staffID, err)
	}
	return int(tag.RowsAffected()), nil
}

// LoginFailures counts the failed logins since the given time for the email
// (whatever its case) and for the address. Failures are kept for a day.
func (s *Store) LoginFailures(ctx context.Context, email, ip string, since time.Time) (byAccount, byIP int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM login_failures WHERE email = $1 AND at >= $3),
			(SELECT count(*) FROM login_failures WHERE ip = $2 AND at >= $3)`,
		normalEmail(email), ip, since).Scan(&byAccount, &byIP)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count login failures: %w", err)
	}
	return byAccount, byIP, nil
}

// RecordLoginFailure records a failed login for the email and the address,
// and forgets failures older than a day.
func (s *Store) RecordLoginFailure(ctx context.Context, email, ip string) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO login_failures (email, ip) VALUES ($1, $2)`, normalEmail(email), ip)
	b.Queue(`DELETE FROM login_failures WHERE at < now() - $1::bigint * interval '1 microsecond'`, loginFailureMemory.Microseconds())
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: record login failure: %w", err)
	}
	return nil
}

// ClearLoginFailures forgets the failed logins of an email, after a
// successful login. Those counted for its addresses stay.
func (s *Store) ClearLoginFailures(ctx context.Context, email string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE email = $1`, normalEmail(email)); err != nil {
		return fmt.Errorf("store: clear login failures: %w", err)
	}
	return nil
}

// normalEmail is the form of an email that throttling counts by.
func normalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
