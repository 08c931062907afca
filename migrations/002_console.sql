-- +goose Up

-- Accounts of the office's staff in the console. Emails are unique whatever
-- their case; the password hash is argon2id's encoded form, made by the console.
CREATE TABLE staff (
    id                   bigserial PRIMARY KEY,
    email                text NOT NULL CHECK (email <> ''),
    role                 text NOT NULL CHECK (role IN ('admin', 'reviewer')),
    password_hash        text NOT NULL,
    lang                 text NOT NULL DEFAULT 'en',
    disabled             boolean NOT NULL DEFAULT false,
    must_change_password boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_login_at        timestamptz
);
CREATE UNIQUE INDEX staff_email_key ON staff (lower(email));

-- Logged-in browser sessions. The key is the SHA-256 of the cookie's token,
-- so a copy of this table does not let anyone log in.
CREATE TABLE staff_sessions (
    token_hash text PRIMARY KEY,
    staff_id   bigint NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf       text NOT NULL,
    ip         text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX staff_sessions_staff_idx ON staff_sessions (staff_id);

-- Failed logins, counted per account and per address to slow down guessing.
-- email is stored lower-cased.
CREATE TABLE login_failures (
    email text NOT NULL,
    ip    text NOT NULL,
    at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);

-- search_fold makes text comparable for search whatever the database's
-- locale: ICU's root lower-casing handles Azerbaijani and Cyrillic letters
-- (the C locale lower-cases ASCII only). The combining dot it leaves after
-- the i of a capital İ is dropped, and the dotless ı is taken for an i,
-- because the capital I stands for both: "İSMAYILOV", "Ismayilov" and
-- "İsmayılov" all meet.
-- +goose StatementBegin
CREATE FUNCTION search_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate(lower(t COLLATE "und-x-icu"), U&'\0131\0307', 'i') $$;
-- +goose StatementEnd

ALTER TABLE appeals
    ADD COLUMN assignee_id     bigint REFERENCES staff (id),
    -- has_news: the person added something staff have not seen yet.
    ADD COLUMN has_news        boolean NOT NULL DEFAULT false,
    ADD COLUMN closed_at       timestamptz,
    -- first_answer_at: the first reply of staff to the person.
    ADD COLUMN first_answer_at timestamptz,
    -- search: the words of the names and the description for full-text
    -- search. The 'simple' configuration neither stems nor drops stop words,
    -- so it treats Azerbaijani, Russian and English alike.
    ADD COLUMN search          tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig,
            search_fold(surname || ' ' || first_name || ' ' || patronymic || ' ' || description))
    ) STORED;

-- facets holds every value the list filters on as "x:value", for the
-- indexes below.
ALTER TABLE appeals ADD COLUMN facets text[] GENERATED ALWAYS AS (ARRAY[
    's:' || status, 'c:' || category, 'z:' || citizenship, 'k:' || country,
    'l:' || language, 'a:' || coalesce(assignee_id, 0)::text]) STORED;

-- The console's list is newest first with a keyset on (submitted_at, id).
-- One btree per filter, in that order, serves the pages of one filter
-- (with a date range or not) reading only its own rows. Filters combined
-- are served either by walking appeals_list_idx, which carries the facets so
-- that the walk never leaves the index (a few hundred nanoseconds a row), or,
-- when the combination is rare, by intersecting the facets in the GIN index
-- below.
-- Every btree includes status, so that the counts per status the trigger
-- tables cannot answer are index-only scans too.
DROP INDEX appeals_status_submitted_idx;
CREATE INDEX appeals_list_idx ON appeals (submitted_at DESC, id DESC) INCLUDE (status, facets);
CREATE INDEX appeals_status_idx ON appeals (status, submitted_at DESC, id DESC);
CREATE INDEX appeals_category_idx ON appeals (category, submitted_at DESC, id DESC) INCLUDE (status);
CREATE INDEX appeals_citizenship_idx ON appeals (citizenship, submitted_at DESC, id DESC) INCLUDE (status);
CREATE INDEX appeals_country_idx ON appeals (country, submitted_at DESC, id DESC) INCLUDE (status);
CREATE INDEX appeals_language_idx ON appeals (language, submitted_at DESC, id DESC) INCLUDE (status);
CREATE INDEX appeals_assignee_idx ON appeals (assignee_id, submitted_at DESC, id DESC) INCLUDE (status);
-- Full-text search, alone or with filters: one GIN index over the words and
-- the facets intersects them within one scan, skipping through the long
-- lists of common values instead of reading them whole.
CREATE INDEX appeals_find_idx ON appeals USING gin (search, facets);
-- Prefix search on references (AP-2026-0000...) whatever the collation.
CREATE INDEX appeals_reference_prefix_idx ON appeals (reference text_pattern_ops);

-- The list shows counts per status. Counting a million rows takes a tenth
-- of a second or more even from an index, so the counts are kept up to date
-- by a trigger: appeal_counts for every combination of the list's filters
-- (a NULL is "any"; assignee_id 0 is "unassigned"), appeal_word_counts for
-- every word the search knows. Queries the tables cannot answer (a date
-- range, several words, a search with filters) count the matching rows,
-- which are few enough then.
CREATE TABLE appeal_counts (
    status      text NOT NULL,
    category    text,
    citizenship text,
    country     text,
    language    text,
    assignee_id bigint,
    n           bigint NOT NULL,
    CONSTRAINT appeal_counts_key
        UNIQUE NULLS NOT DISTINCT (category, citizenship, country, language, assignee_id, status)
);

CREATE TABLE appeal_word_counts (
    word   text NOT NULL,
    status text NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (word, status)
);

-- appeal_counts_track adds the rows a statement inserted and takes away the
-- rows it deleted (an update is both). It runs once per statement, so a bulk
-- load costs one grouping, and it writes only the counts that changed. The
-- upserts go in key order, so that two transactions never wait on each
-- other's counts in opposite orders.
-- +goose StatementBegin
CREATE FUNCTION appeal_counts_track() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    changes text;
BEGIN
    changes := CASE TG_OP
        WHEN 'INSERT' THEN
            'SELECT status, category, citizenship, country, language, assignee_id, search, 1 AS d FROM new_rows'
        WHEN 'DELETE' THEN
            'SELECT status, category, citizenship, country, language, assignee_id, search, -1 AS d FROM old_rows'
        ELSE
            'SELECT status, category, citizenship, country, language, assignee_id, search, -1 AS d FROM old_rows
             UNION ALL
             SELECT status, category, citizenship, country, language, assignee_id, search, 1 AS d FROM new_rows'
        END;
    EXECUTE format($sql$
        INSERT INTO appeal_counts AS c (category, citizenship, country, language, assignee_id, status, n)
        SELECT category, citizenship, country, language, assignee, status, sum(d)
        FROM (SELECT status, category, citizenship, country, language,
                coalesce(assignee_id, 0) AS assignee, d FROM (%s) r) x
        GROUP BY status, CUBE (category, citizenship, country, language, assignee)
        HAVING sum(d) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT ON CONSTRAINT appeal_counts_key DO UPDATE SET n = c.n + EXCLUDED.n
        $sql$, changes);
    EXECUTE format($sql$
        INSERT INTO appeal_word_counts AS c (word, status, n)
        SELECT w, status, sum(d)
        FROM (%s) r, unnest(tsvector_to_array(r.search)) w
        GROUP BY w, status
        HAVING sum(d) <> 0
        ORDER BY 1, 2
        ON CONFLICT (word, status) DO UPDATE SET n = c.n + EXCLUDED.n
        $sql$, changes);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

INSERT INTO appeal_counts (category, citizenship, country, language, assignee_id, status, n)
SELECT category, citizenship, country, language, assignee, status, count(*)
FROM (SELECT status, category, citizenship, country, language, coalesce(assignee_id, 0) AS assignee FROM appeals) x
GROUP BY status, CUBE (category, citizenship, country, language, assignee);
INSERT INTO appeal_word_counts (word, status, n)
SELECT w, status, count(*) FROM appeals, unnest(tsvector_to_array(search)) w GROUP BY w, status;

CREATE TRIGGER appeals_count_insert AFTER INSERT ON appeals
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appeal_counts_track();
CREATE TRIGGER appeals_count_update AFTER UPDATE ON appeals
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appeal_counts_track();
CREATE TRIGGER appeals_count_delete AFTER DELETE ON appeals
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION appeal_counts_track();

-- A person who blocked the bot: nothing reaches them until a delivery works.
ALTER TABLE users ADD COLUMN blocked_at timestamptz;
CREATE INDEX users_chat_idx ON users (chat_id);

-- A message that cannot be delivered because the person blocked the bot is
-- not retried.
ALTER TABLE outbox ADD COLUMN blocked_at timestamptz;
DROP INDEX outbox_due_idx;
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL AND blocked_at IS NULL;

-- The life of an appeal after its submission, oldest first: what the person
-- added, staff's replies and notes, status changes, referrals, assignments.
-- A reply or status message to the person links its outbox row, which tells
-- its delivery state.
CREATE TABLE thread_entries (
    id         bigserial PRIMARY KEY,
    appeal_id  bigint NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    kind       text NOT NULL
        CHECK (kind IN ('migrant', 'reply', 'note', 'status', 'referral', 'assign')),
    author_id  bigint REFERENCES staff (id),
    text       text NOT NULL DEFAULT '',
    -- status: the new status of a status change.
    status     text NOT NULL DEFAULT '',
    -- attachment: a migrantbot.Attachment as JSON, for a file the person sent.
    attachment jsonb,
    outbox_id  bigint REFERENCES outbox (id)
);
CREATE INDEX thread_entries_appeal_idx ON thread_entries (appeal_id, id);

-- Referrals of appeals to partner bodies.
CREATE TABLE referrals (
    id          bigserial PRIMARY KEY,
    appeal_id   bigint NOT NULL REFERENCES appeals (id) ON DELETE CASCADE,
    partner     text NOT NULL
        CHECK (partner IN ('sms', 'foreign_ombudsman', 'embassy', 'state_body', 'ngo')),
    name        text NOT NULL DEFAULT '',
    referred_on date NOT NULL,
    note        text NOT NULL DEFAULT '',
    by_id       bigint NOT NULL REFERENCES staff (id),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referrals_appeal_idx ON referrals (appeal_id, id);

-- Who did what and when in the console. Append-only: the trigger below makes
-- any change or removal of a row fail, so the application cannot rewrite it.
CREATE TABLE audit_log (
    id     bigserial PRIMARY KEY,
    at     timestamptz NOT NULL DEFAULT now(),
    actor  text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT '',
    ip     text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_target_idx ON audit_log (target, id);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE referrals;
DROP TABLE thread_entries;
DROP INDEX outbox_due_idx;
ALTER TABLE outbox DROP COLUMN blocked_at;
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL;
DROP INDEX users_chat_idx;
ALTER TABLE users DROP COLUMN blocked_at;
DROP TRIGGER appeals_count_delete ON appeals;
DROP TRIGGER appeals_count_update ON appeals;
DROP TRIGGER appeals_count_insert ON appeals;
DROP FUNCTION appeal_counts_track();
DROP TABLE appeal_word_counts;
DROP TABLE appeal_counts;
DROP INDEX appeals_reference_prefix_idx;
DROP INDEX appeals_find_idx;
DROP INDEX appeals_assignee_idx;
DROP INDEX appeals_language_idx;
DROP INDEX appeals_country_idx;
DROP INDEX appeals_citizenship_idx;
DROP INDEX appeals_category_idx;
DROP INDEX appeals_status_idx;
DROP INDEX appeals_list_idx;
CREATE INDEX appeals_status_submitted_idx ON appeals (status, submitted_at DESC);
ALTER TABLE appeals
    DROP COLUMN facets,
    DROP COLUMN search,
    DROP COLUMN first_answer_at,
    DROP COLUMN closed_at,
    DROP COLUMN has_news,
    DROP COLUMN assignee_id;
DROP FUNCTION search_fold(text);
DROP TABLE login_failures;
DROP TABLE staff_sessions;
DROP TABLE staff;
