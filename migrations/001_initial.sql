-- +goose Up

-- People who have talked to the bot and the language they chose.
CREATE TABLE users (
    user_id    bigint PRIMARY KEY,
    chat_id    bigint NOT NULL,
    language   text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The dialog state of each chat. data holds the whole migrantbot.Session as
-- JSON; user_id, state, lang and version repeat parts of it for queries.
-- The row is locked (SELECT ... FOR UPDATE) while an update of the chat is
-- applied, which serializes one chat's updates across instances.
CREATE TABLE sessions (
    chat_id    bigint PRIMARY KEY,
    user_id    bigint NOT NULL DEFAULT 0,
    state      text NOT NULL DEFAULT '',
    lang       text NOT NULL DEFAULT '',
    data       jsonb NOT NULL DEFAULT '{}',
    version    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Numbers of appeal references (AP-2026-000042).
CREATE SEQUENCE appeal_ref_seq;

CREATE TABLE appeals (
    id              bigserial PRIMARY KEY,
    reference       text NOT NULL UNIQUE,
    user_id         bigint NOT NULL,
    chat_id         bigint NOT NULL,
    language        text NOT NULL DEFAULT '',
    status          text NOT NULL DEFAULT 'new'
        CONSTRAINT appeals_status_check
        CHECK (status IN ('new', 'in_review', 'referred', 'answered', 'closed', 'rejected')),
    consent_at      timestamptz,
    consent_version text NOT NULL DEFAULT '',
    surname         text NOT NULL DEFAULT '',
    first_name      text NOT NULL DEFAULT '',
    patronymic      text NOT NULL DEFAULT '',
    citizenship     text NOT NULL DEFAULT '',
    country         text NOT NULL DEFAULT '',
    city            text NOT NULL DEFAULT '',
    address         text NOT NULL DEFAULT '',
    category        text NOT NULL DEFAULT '',
    authority       text NOT NULL DEFAULT '',
    -- occurred is Appeal.When: a period code or a date typed as 2006-01-02.
    occurred        text NOT NULL DEFAULT '',
    over_one_year   boolean NOT NULL DEFAULT false,
    description     text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    phone_shared    boolean NOT NULL DEFAULT false,
    email           text NOT NULL DEFAULT '',
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- "My appeals" of one person, newest first.
CREATE INDEX appeals_user_submitted_idx ON appeals (user_id, submitted_at DESC);
-- The staff console's lists by status, newest first.
CREATE INDEX appeals_status_submitted_idx ON appeals (status, submitted_at DESC);

-- Files added to an appeal; the files stay with Telegram.
CREATE TABLE attachments (
    id             bigserial PRIMARY KEY,
    appeal_id      bigint NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    position       integer NOT NULL,
    file_id        text NOT NULL,
    file_unique_id text NOT NULL,
    kind           text NOT NULL DEFAULT '',
    size           bigint NOT NULL DEFAULT 0,
    file_name      text NOT NULL DEFAULT '',
    mime_type      text NOT NULL DEFAULT '',
    caption        text NOT NULL DEFAULT '',
    media_group_id text NOT NULL DEFAULT '',
    UNIQUE (appeal_id, file_unique_id)
);

-- Telegram update ids whose effects are committed, so that a redelivered
-- update is applied once.
CREATE TABLE processed_updates (
    update_id    bigint PRIMARY KEY,
    chat_id      bigint NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Messages to deliver, each a migrantbot.Message as JSON. A row is due when
-- sent_at is null and next_attempt_at has come.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    chat_id         bigint NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    sent_at         timestamptz,
    last_error      text NOT NULL DEFAULT ''
);

CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE processed_updates;
DROP TABLE attachments;
DROP TABLE appeals;
DROP SEQUENCE appeal_ref_seq;
DROP TABLE sessions;
DROP TABLE users;
