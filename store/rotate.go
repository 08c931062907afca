package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"migrantbot/sealed"
)

// rotateBatch is how many rows one transaction of Rotate re-seals: small
// enough that the rows it locks are given back within milliseconds, so the
// bot and the console keep working while a large database is rotated.
const rotateBatch = 100

// sealedTable names the sealed columns of a table, for Rotate.
type sealedTable struct {
	name string
	key  string // a bigint primary or unique key, to walk the table by
	text []string
	json []string
	// search: the appeals' search tokens are recomputed from the opened
	// names and description (text columns 0, 1, 2 and 6).
	search bool
}

// sealedTables are every table with sealed columns, and those columns. A
// new sealed column must be added here, or a rotation leaves it under the
// old key (TestRotation finds it: it scans every column).
var sealedTables = []sealedTable{
	{name: "appeals", key: "id",
		text:   []string{"surname", "first_name", "patronymic", "city", "address", "authority", "description", "phone", "email"},
		search: true},
	{name: "attachments", key: "id", text: []string{"file_name", "caption"}},
	{name: "thread_entries", key: "id", text: []string{"text"}, json: []string{"attachment"}},
	{name: "referrals", key: "id", text: []string{"name", "note"}},
	{name: "sessions", key: "chat_id", json: []string{"data"}},
	{name: "outbox", key: "id", json: []string{"payload"}},
	{name: "staff", key: "id", text: []string{"totp_secret"}},
}

// RotationCount is how many rows of a table a rotation re-sealed.
type RotationCount struct {
	Table string
	Rows  int
}

// Rotate re-seals under the current key every sealed value that is not
// (sealed under a previous key, or plain from before encryption), and
// recomputes the search tokens of the appeals it re-seals. It walks each
// table in key order in transactions of 100 rows, locking only those, so
// it runs beside the bot. Running it again changes nothing. It returns the
// rows changed per table, also when it fails part way (the work done is
// committed; running it again carries on).
//
// A value sealed under a key the store does not hold fails the rotation:
// put that key in DATA_KEY_PREVIOUS.
func (s *Store) Rotate(ctx context.Context) ([]RotationCount, error) {
	var counts []RotationCount
	for _, t := range sealedTables {
		n, err := s.rotateTable(ctx, t)
		counts = append(counts, RotationCount{Table: t.name, Rows: n})
		if err != nil {
			return counts, fmt.Errorf("store: rotate %s: %w", t.name, err)
		}
		s.logger.Info("store: table re-sealed", "table", t.name, "rows", n, "key", s.keys.CurrentID())
	}
	// A value written meanwhile under another key means an instance still
	// runs with the old DATA_KEY: dropping that key now would lose it.
	prefix := sealed.Prefix + s.keys.CurrentID() + ":"
	for _, t := range sealedTables {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+t.name+` WHERE `+staleWhere(t, "$1"), prefix).Scan(&n); err != nil {
			return counts, fmt.Errorf("store: check rotation of %s: %w", t.name, err)
		}
		if n > 0 {
			return counts, fmt.Errorf("store: %d rows of %s were written under another key during the rotation: restart every instance with the new DATA_KEY, then rotate again before dropping the old key", n, t.name)
		}
	}
	return counts, nil
}

// staleWhere is the condition of a row of t with a sealed value neither
// empty (or NULL) nor sealed under the key whose prefix is the parameter
// prefix. The database tells by the prefix, so a rotation run again reads
// nothing but the index.
func staleWhere(t sealedTable, prefix string) string {
	var stale []string
	for _, c := range t.text {
		stale = append(stale, "("+c+" <> '' AND NOT starts_with("+c+", "+prefix+"))")
	}
	for _, c := range t.json {
		// An emptied document ('{}', left by erasure and retention) holds
		// nothing to seal.
		stale = append(stale, "NOT (jsonb_typeof("+c+") = 'string' AND starts_with("+c+" #>> '{}', "+prefix+") OR "+c+" = '{}'::jsonb)")
	}
	return "(" + strings.Join(stale, " OR ") + ")"
}

// rotateTable re-seals the stale rows of one table, batch by batch.
func (s *Store) rotateTable(ctx context.Context, t sealedTable) (int, error) {
	prefix := sealed.Prefix + s.keys.CurrentID() + ":"
	cols := append(append([]string{}, t.text...), t.json...)
	// A row is stale when any of its sealed values is neither empty (or
	// NULL) nor sealed under the current key. The database tells by the
	// prefix, so a rotation run again reads nothing but the index.
	var selects []string
	for _, c := range t.text {
		selects = append(selects, c)
	}
	for _, c := range t.json {
		selects = append(selects, c+"::text")
	}
	query := `SELECT ` + t.key + `, ` + strings.Join(selects, ", ") + ` FROM ` + t.name + `
		WHERE ` + t.key + ` > $1 AND ` + staleWhere(t, "$3") + `
		ORDER BY ` + t.key + ` LIMIT $2 FOR UPDATE`
	// The update sets every sealed column of the batch's rows from arrays,
	// one statement, so the appeals' count trigger runs once per batch.
	var sets, types, names []string
	for i, c := range cols {
		v := "v.c" + strconv.Itoa(i)
		if i >= len(t.text) {
			v += "::jsonb"
		}
		sets = append(sets, c+" = "+v)
		types = append(types, "$"+strconv.Itoa(i+2)+"::text[]")
		names = append(names, "c"+strconv.Itoa(i))
	}
	if t.search {
		sets = append(sets, "search = array_to_tsvector(string_to_array(v.search, ' '))")
		types = append(types, "$"+strconv.Itoa(len(cols)+2)+"::text[]")
		names = append(names, "search")
	}
	update := `UPDATE ` + t.name + ` t SET ` + strings.Join(sets, ", ") + `
		FROM unnest($1::bigint[], ` + strings.Join(types, ", ") + `) AS v(k, ` + strings.Join(names, ", ") + `)
		WHERE t.` + t.key + ` = v.k`

	var (
		last  int64 = -1 << 63
		total int
	)
	for {
		var (
			n, next int64
			done    bool
		)
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, query, last, rotateBatch, prefix)
			if err != nil {
				return err
			}
			keys := []int64{}
			values := make([][]*string, len(cols))
			var search []string
			read := 0
			for rows.Next() {
				read++
				var key int64
				row := make([]*string, len(cols))
				dest := []any{&key}
				for i := range row {
					dest = append(dest, &row[i])
				}
				if err := rows.Scan(dest...); err != nil {
					rows.Close()
					return err
				}
				next = key
				plain, err := s.reseal(t, row)
				if err != nil {
					rows.Close()
					return fmt.Errorf("%s %d: %w", t.key, key, err)
				}
				keys = append(keys, key)
				for i := range row {
					values[i] = append(values[i], row[i])
				}
				if t.search {
					search = append(search, strings.Join(s.searchTokens(plain[0], plain[1], plain[2], plain[6]), " "))
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			done = read < rotateBatch
			if len(keys) == 0 {
				return nil
			}
			args := []any{keys}
			for _, v := range values {
				args = append(args, v)
			}
			if t.search {
				args = append(args, search)
			}
			tag, err := tx.Exec(ctx, update, args...)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if done {
			return total, nil
		}
		last = next
	}
}

// reseal replaces each value of row (as stored, in the order of t's text
// then json columns) by its form sealed under the current key, and returns
// the plain values of the text columns. NULL stays NULL; values already
// current are kept as they are.
func (s *Store) reseal(t sealedTable, row []*string) ([]string, error) {
	plain := make([]string, len(t.text))
	for i, v := range row {
		if v == nil {
			continue
		}
		if i < len(t.text) {
			p, err := s.open(*v)
			if err != nil {
				return nil, err
			}
			plain[i] = p
			if s.keys.Current(*v) {
				continue
			}
			sealedV, err := s.seal(p)
			if err != nil {
				return nil, err
			}
			row[i] = &sealedV
			continue
		}
		if s.keys.CurrentJSON([]byte(*v)) {
			continue
		}
		doc, err := s.openJSON([]byte(*v))
		if err != nil {
			return nil, err
		}
		sealedDoc, err := s.sealJSON(doc)
		if err != nil {
			return nil, err
		}
		str := string(sealedDoc)
		row[i] = &str
	}
	return plain, nil
}
