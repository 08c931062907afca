-- +goose Up

-- When the retention job anonymized an appeal: its identifying fields,
-- files and texts are gone, its status, category, countries, language and
-- dates stay for the statistics.
ALTER TABLE appeals ADD COLUMN anonymized_at timestamptz;

-- The retention job looks for closed and rejected appeals not yet
-- anonymized whose closing is past the period; once anonymized they leave
-- the index, so it stays the size of the appeals still waiting.
CREATE INDEX appeals_retention_idx ON appeals (closed_at)
    WHERE anonymized_at IS NULL AND closed_at IS NOT NULL;

-- One row per run of the retention job that did its work (dry runs are not
-- recorded): when it ran and how many things of each kind it removed, never
-- what they held. The job of every instance reads the newest row to run at
-- most once a day.
CREATE TABLE retention_runs (
    id                 bigserial PRIMARY KEY,
    ran_at             timestamptz NOT NULL DEFAULT now(),
    -- forced: run on demand (`migrantbot retention`), not by the daily job.
    forced             boolean NOT NULL DEFAULT false,
    drafts_reset       integer NOT NULL DEFAULT 0,
    appeals_anonymized integer NOT NULL DEFAULT 0,
    updates_pruned     integer NOT NULL DEFAULT 0,
    outbox_deleted     integer NOT NULL DEFAULT 0,
    outbox_blanked     integer NOT NULL DEFAULT 0
);
CREATE INDEX retention_runs_ran_at_idx ON retention_runs (ran_at);

-- +goose Down
DROP TABLE retention_runs;
DROP INDEX appeals_retention_idx;
ALTER TABLE appeals DROP COLUMN anonymized_at;
