package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// The TOTP secrets of staff accounts (the optional second factor) live in
// staff.totp_secret, sealed under the data key like personal data: a
// database dump must not let anyone make an account's codes.

// StaffTOTP returns the TOTP secret of an account, whether it is switched on
// (false while the staff member is still enrolling), and the time step of the
// last code accepted. Returns ENOTFOUND if the account has no secret or does
// not exist.
func (s *Store) StaffTOTP(ctx context.Context, staffID int64) (secret string, enabled bool, lastStep int64, err error) {
	var stored *string
	err = s.pool.QueryRow(ctx, `SELECT totp_secret, totp_enabled_at IS NOT NULL, totp_last_step FROM staff WHERE id = $1`, staffID).
		Scan(&stored, &enabled, &lastStep)
	if err == nil && stored == nil {
		err = pgx.ErrNoRows
	}
	if err != nil {
		return "", false, 0, fmt.Errorf("store: totp of staff %d: %w", staffID, notFound(err, "no totp secret of staff %d", staffID))
	}
	if secret, err = s.open(*stored); err != nil {
		return "", false, 0, fmt.Errorf("store: totp of staff %d: %w", staffID, err)
	}
	return secret, enabled, lastStep, nil
}

// BeginTOTP stores a new secret for an account, not yet switched on,
// replacing the secret of an enrollment not finished. Returns ECONFLICT when
// TOTP is on (it must be switched off first), ENOTFOUND if there is no such
// account and EINVALID for an empty secret.
func (s *Store) BeginTOTP(ctx context.Context, staffID int64, secret string) error {
	if secret == "" {
		return fmt.Errorf("store: begin totp of staff %d: %w", staffID, migrantbot.Errorf(migrantbot.EINVALID, "empty totp secret"))
	}
	stored, err := s.seal(secret)
	if err != nil {
		return fmt.Errorf("store: begin totp of staff %d: %w", staffID, err)
	}
	var enabled bool
	err = s.pool.QueryRow(ctx, `WITH old AS (SELECT id, totp_enabled_at IS NOT NULL AS enabled FROM staff WHERE id = $1),
			upd AS (UPDATE staff SET totp_secret = $2, totp_last_step = 0
				WHERE id = $1 AND totp_enabled_at IS NULL RETURNING id)
		SELECT enabled FROM old`, staffID, stored).Scan(&enabled)
	switch {
	case err != nil:
		return fmt.Errorf("store: begin totp of staff %d: %w", staffID, notFound(err, "no staff account %d", staffID))
	case enabled:
		return fmt.Errorf("store: begin totp of staff %d: %w", staffID, migrantbot.Errorf(migrantbot.ECONFLICT, "totp is already on"))
	}
	return nil
}

// EnableTOTP switches TOTP on for an account, once a code of its pending
// secret has been checked: secret is the secret the code was checked
// against, and step the time step of that code, which is recorded as used.
// Returns ENOTFOUND when there is no pending secret, and ECONFLICT when TOTP
// is on already or the pending secret is no longer the one checked (another
// enrollment replaced it meanwhile).
func (s *Store) EnableTOTP(ctx context.Context, staffID int64, secret string, step int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			stored  *string
			enabled bool
		)
		err := tx.QueryRow(ctx, `SELECT totp_secret, totp_enabled_at IS NOT NULL FROM staff WHERE id = $1 FOR UPDATE`, staffID).
			Scan(&stored, &enabled)
		switch {
		case err != nil:
			return notFound(err, "no staff account %d", staffID)
		case stored == nil:
			return migrantbot.Errorf(migrantbot.ENOTFOUND, "no pending totp secret")
		case enabled:
			return migrantbot.Errorf(migrantbot.ECONFLICT, "totp is already on")
		}
		// The stored form is sealed under a random nonce: compare the plain
		// secrets.
		current, err := s.open(*stored)
		if err != nil {
			return err
		}
		if current != secret {
			return migrantbot.Errorf(migrantbot.ECONFLICT, "the pending totp secret has changed")
		}
		_, err = tx.Exec(ctx, `UPDATE staff SET totp_enabled_at = now(), totp_last_step = $2 WHERE id = $1`, staffID, step)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: enable totp of staff %d: %w", staffID, err)
	}
	return nil
}

// UseTOTPStep records that a code of the given time step was accepted for
// an account. It is atomic: of two requests with the same code, one wins.
// Returns ECONFLICT when a code of this step or a later one was accepted
// already (a replayed code), and ENOTFOUND when TOTP is not on.
func (s *Store) UseTOTPStep(ctx context.Context, staffID, step int64) error {
	var enabled, used bool
	err := s.pool.QueryRow(ctx, `WITH old AS (SELECT totp_enabled_at IS NOT NULL AS enabled FROM staff WHERE id = $1),
			upd AS (UPDATE staff SET totp_last_step = $2
				WHERE id = $1 AND totp_enabled_at IS NOT NULL AND totp_last_step < $2 RETURNING id)
		SELECT (SELECT enabled FROM old), EXISTS (SELECT FROM upd)`, staffID, step).Scan(&enabled, &used)
	switch {
	case err != nil:
		return fmt.Errorf("store: use totp step of staff %d: %w", staffID, err)
	case !enabled:
		return fmt.Errorf("store: use totp step of staff %d: %w", staffID, migrantbot.Errorf(migrantbot.ENOTFOUND, "totp is not on"))
	case !used:
		return fmt.Errorf("store: use totp step of staff %d: %w", staffID, migrantbot.Errorf(migrantbot.ECONFLICT, "totp code already used"))
	}
	return nil
}

// DisableTOTP switches TOTP off for an account and forgets its secret, or
// abandons an enrollment. Returns ENOTFOUND if there is no such account.
func (s *Store) DisableTOTP(ctx context.Context, staffID int64) error {
	return s.updateStaff(ctx, staffID, "disable totp",
		`UPDATE staff SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0 WHERE id = $1`)
}

// ResetTOTP is for a lost authenticator: it switches TOTP off, forgets the
// secret and ends every session of the account, in one transaction (a lost
// phone may be a stolen one). Returns ENOTFOUND if there is no such account.
func (s *Store) ResetTOTP(ctx context.Context, staffID int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE staff SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = 0 WHERE id = $1`, staffID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return migrantbot.Errorf(migrantbot.ENOTFOUND, "no staff account %d", staffID)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1`, staffID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: reset totp of staff %d: %w", staffID, err)
	}
	return nil
}
