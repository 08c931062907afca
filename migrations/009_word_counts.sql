-- +goose Up

-- A word's count that falls to zero is deleted with the change that made it
-- so: the counts hold keyed tokens of people's words, and a token that no
-- appeal holds any more (an erased or anonymized one) must not stay behind
-- to tell that the word was once there. The rest of the function is as in
-- 002_console.sql.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION appeal_counts_track() RETURNS trigger
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
    -- Only the words this statement took away can have reached zero.
    EXECUTE format($sql$
        DELETE FROM appeal_word_counts c
        USING (SELECT w, status FROM (%s) r, unnest(tsvector_to_array(r.search)) w
            GROUP BY w, status HAVING sum(d) < 0) x
        WHERE c.word = x.w AND c.status = x.status AND c.n = 0
        $sql$, changes);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DELETE FROM appeal_word_counts WHERE n = 0;

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION appeal_counts_track() RETURNS trigger
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
