-- +goose Up

-- Personal data is encrypted at rest by the application (AES-256-GCM under
-- DATA_KEY; see package sealed), so the database can no longer read the
-- names and the description to index their words. search becomes a plain
-- column the application fills with keyed tokens of the words (HMAC-SHA256
-- under a key derived from DATA_KEY, cut to 16 hex characters), one lexeme
-- each: equal words still meet, the words themselves are not stored.
--
-- Rows written before this migration keep their plain values until
-- `migrantbot rotate-key` seals them and computes their tokens; until then
-- they are found by reference and filters, not by words.
DROP INDEX appeals_find_idx;
ALTER TABLE appeals DROP COLUMN search;
ALTER TABLE appeals ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector;
CREATE INDEX appeals_find_idx ON appeals USING gin (search, facets);

-- The counts per word held the words in plain text; they now count tokens
-- (the trigger reads search as before), and start again from the empty
-- search documents above.
DELETE FROM appeal_word_counts;

-- +goose Down
DROP INDEX appeals_find_idx;
ALTER TABLE appeals DROP COLUMN search;
ALTER TABLE appeals ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig,
        search_fold(surname || ' ' || first_name || ' ' || patronymic || ' ' || description))
) STORED;
CREATE INDEX appeals_find_idx ON appeals USING gin (search, facets);
DELETE FROM appeal_word_counts;
INSERT INTO appeal_word_counts (word, status, n)
SELECT w, status, count(*) FROM appeals, unnest(tsvector_to_array(search)) w GROUP BY w, status;
