-- +goose Up

-- The optional second factor of staff accounts (TOTP, RFC 6238).
-- totp_secret is the base32 secret of the authenticator app: NULL when the
-- account has none, set but with totp_enabled_at NULL while the staff member
-- is enrolling (the secret is shown but no code has confirmed it yet).
-- totp_last_step is the 30-second time step of the last code accepted: a
-- code of that step or an earlier one is refused, so a code seen over a
-- shoulder or in a proxy log cannot be used again.
ALTER TABLE staff
    ADD COLUMN totp_secret     text,
    ADD COLUMN totp_enabled_at timestamptz,
    ADD COLUMN totp_last_step  bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT staff_totp_enabled_has_secret CHECK (totp_enabled_at IS NULL OR totp_secret IS NOT NULL);

-- Sessions get a serial id to be named by in pages and forms (the token
-- hash must never leave the store). pending marks a session whose password
-- was right but whose authenticator code is still to come: it opens nothing
-- but the code form.
ALTER TABLE staff_sessions
    ADD COLUMN id      bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    ADD COLUMN pending boolean NOT NULL DEFAULT false;

-- The audit viewer filters by date range.
CREATE INDEX audit_log_at_idx ON audit_log (at, id);

-- +goose Down
DROP INDEX audit_log_at_idx;
ALTER TABLE staff_sessions DROP COLUMN pending, DROP COLUMN id;
ALTER TABLE staff
    DROP CONSTRAINT staff_totp_enabled_has_secret,
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_enabled_at,
    DROP COLUMN totp_secret;
