-- +goose Up

-- The person's last answer to the privacy notice: which version, when, and
-- whether they agreed. An appeal keeps the version it was made under too.
ALTER TABLE users
    ADD COLUMN consent_version text NOT NULL DEFAULT '',
    ADD COLUMN consent_at      timestamptz,
    ADD COLUMN consent_agreed  boolean;

-- When the person asked (/forgetme) to erase their personal data from the
-- appeal; its status, category, countries and dates stay.
ALTER TABLE appeals ADD COLUMN erased_at timestamptz;

-- An "erasure" entry tells staff in an open appeal's thread that the person
-- asked for their data to be erased.
ALTER TABLE thread_entries DROP CONSTRAINT thread_entries_kind_check;
ALTER TABLE thread_entries ADD CONSTRAINT thread_entries_kind_check
    CHECK (kind IN ('migrant', 'reply', 'note', 'status', 'referral', 'assign', 'erasure'));

-- +goose Down
DELETE FROM thread_entries WHERE kind = 'erasure';
ALTER TABLE thread_entries DROP CONSTRAINT thread_entries_kind_check;
ALTER TABLE thread_entries ADD CONSTRAINT thread_entries_kind_check
    CHECK (kind IN ('migrant', 'reply', 'note', 'status', 'referral', 'assign'));
ALTER TABLE appeals DROP COLUMN erased_at;
ALTER TABLE users
    DROP COLUMN consent_agreed,
    DROP COLUMN consent_at,
    DROP COLUMN consent_version;
