package store

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot"
	"migrantbot/sealed"
)

// Page sizes of the console's list.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// statuses in the order of an appeal's life, for counts and charts.
var statuses = []migrantbot.Status{
	migrantbot.StatusNew, migrantbot.StatusInReview, migrantbot.StatusReferred,
	migrantbot.StatusAnswered, migrantbot.StatusClosed, migrantbot.StatusRejected,
}

// referenceQuery matches a search that is the beginning of a reference,
// such as "AP-2026-0000" or "ap-2026-000042".
var referenceQuery = regexp.MustCompile(`^AP-[0-9][0-9-]*$`)

// listQuery is the SQL of one filter: conditions on the appeals table
// (aliased a) with their arguments.
type listQuery struct {
	conds []string
	args  []any
}

func (q *listQuery) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *listQuery) where() string {
	if len(q.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.conds, " AND ")
}

// search is what a filter's Query asks for.
type search struct {
	reference string // a reference prefix, upper case
	text      string // words for full-text search
	// terms are the search tokens of text's distinct words: for each word,
	// its token under the current key, then under each previous key, so
	// that rows a rotation has not reached yet are found too.
	terms [][]string
}

// parseSearch reads a filter's Query. The words of a text search are
// folded, split and hashed here, as searchTokens does for the appeals: the
// database compares tokens, never words.
func (s *Store) parseSearch(query string) search {
	query = strings.TrimSpace(query)
	if up := strings.ToUpper(query); referenceQuery.MatchString(up) {
		return search{reference: up}
	}
	srch := search{text: query}
	for _, w := range sealed.Words(sealed.Fold(query)) {
		srch.terms = append(srch.terms, append([]string{s.keys.Token(w)}, s.keys.PreviousTokens(w)...))
	}
	return srch
}

// tsquery writes the terms of a search as a tsquery: every word, in any
// of its tokens. Tokens are hex digits, so they need no quoting beyond the
// quotes that keep the parser from reading them as numbers.
func (srch search) tsquery() string {
	var sb strings.Builder
	for i, group := range srch.terms {
		if i > 0 {
			sb.WriteString(" & ")
		}
		sb.WriteByte('(')
		for j, t := range group {
			if j > 0 {
				sb.WriteString(" | ")
			}
			sb.WriteString("'" + t + "'")
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// buildFilter turns a filter into conditions. withStatus false leaves the
// status out, for the counts per status. allFacets writes even a single
// equality condition as a facet, for the GIN index to intersect with the
// search's words.
func (s *Store) buildFilter(f migrantbot.AppealFilter, withStatus, allFacets bool) listQuery {
	var q listQuery
	// One equality filter is best served by its own btree, already in list
	// order. Several are written as facets, which both the list's covering
	// index (walked in order) and the GIN index (intersected) can test, and
	// the planner picks by how rare the combination is. Writing both forms
	// would make it count the selectivity twice.
	var facets []string
	type eq struct{ column, facet, value string }
	var eqs []eq
	if withStatus && f.Status != "" {
		eqs = append(eqs, eq{"status", "s:", string(f.Status)})
	}
	for _, e := range []eq{
		{"category", "c:", f.Category},
		{"citizenship", "z:", f.Citizenship},
		{"country", "k:", f.Country},
		{"language", "l:", f.Language},
	} {
		if e.value != "" {
			eqs = append(eqs, e)
		}
	}
	switch {
	case f.Assignee > 0:
		eqs = append(eqs, eq{"assignee_id", "a:", strconv.FormatInt(f.Assignee, 10)})
	case f.Assignee < 0:
		eqs = append(eqs, eq{"assignee_id", "a:", "0"})
	}
	if len(eqs) == 1 && !allFacets {
		e := eqs[0]
		switch {
		case e.column == "assignee_id" && f.Assignee < 0:
			q.conds = append(q.conds, "a.assignee_id IS NULL")
		case e.column == "assignee_id":
			q.conds = append(q.conds, "a.assignee_id = "+q.arg(f.Assignee))
		default:
			q.conds = append(q.conds, "a."+e.column+" = "+q.arg(e.value))
		}
	} else if len(eqs) > 0 {
		for _, e := range eqs {
			facets = append(facets, e.facet+e.value)
		}
		q.conds = append(q.conds, "a.facets @> "+q.arg(facets)+"::text[]")
	}
	if !f.From.IsZero() {
		q.conds = append(q.conds, "a.submitted_at >= "+q.arg(f.From))
	}
	if !f.To.IsZero() {
		q.conds = append(q.conds, "a.submitted_at < "+q.arg(f.To))
	}
	switch srch := s.parseSearch(f.Query); {
	case srch.reference != "":
		// Only [A-Z0-9-] get here, so the pattern has no wildcard of its own.
		q.conds = append(q.conds, "a.reference LIKE "+q.arg(srch.reference+"%"))
	case len(srch.terms) > 0:
		q.conds = append(q.conds, "a.search @@ "+q.arg(srch.tsquery())+"::tsquery")
	case srch.text != "":
		// A text without words (only punctuation, say) matches nothing.
		q.conds = append(q.conds, "false")
	}
	return q
}

// encodeCursor and decodeCursor make the keyset cursor of a row: its
// submission time in microseconds and its id.
func encodeCursor(at time.Time, id int64) string {
	return strconv.FormatInt(at.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)
}

func decodeCursor(c string) (time.Time, int64, error) {
	micro, id, ok := strings.Cut(c, ".")
	m, err1 := strconv.ParseInt(micro, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, migrantbot.Errorf(migrantbot.EINVALID, "bad list cursor %q", c)
	}
	return time.UnixMicro(m), n, nil
}

// ListAppeals returns one page of the appeals matching f, newest first
// (submitted_at, then id, descending), with the counts per status of the
// whole filter without its status.
//
// f.Limit is the page size: 50 when not positive, at most 200. f.After is
// the Next of the previous page; a malformed one is EINVALID. From and To
// bound the submission time as From <= submitted_at < To; a zero time is no
// bound. Query is either the beginning of a reference ("AP-2026-00004"), or
// words that must all appear among the names and the description, whatever
// their case, as whole words (the index holds keyed tokens of words, so the
// beginning of a word does not find it); a query without words (only
// punctuation, say) matches nothing.
func (s *Store) ListAppeals(ctx context.Context, f migrantbot.AppealFilter) (migrantbot.AppealPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)

	// The words of a search decide how it is counted, and a search without
	// any cannot match: it is answered without scanning for nothing.
	var (
		words [][]string
		rare  bool
	)
	if srch := s.parseSearch(f.Query); srch.text != "" {
		if len(srch.terms) == 0 {
			return migrantbot.AppealPage{Counts: zeroCounts()}, nil
		}
		words = srch.terms
		matches, base, err := s.searchEstimate(ctx, words, f)
		if err != nil {
			return migrantbot.AppealPage{}, err
		}
		// Walking an index in the list's order until a page is full reads
		// about limit*base/matches rows, base being the rows of the walked
		// index (those of the filters); fetching the matches and sorting
		// them reads matches rows. The planner cannot know a word's matches
		// when the word is not among its most common ones, and then guesses
		// far too many; the count tables know them, so rare searches are
		// decided here.
		rare = matches <= math.Sqrt(float64(limit+1)*base)
	}
	q := s.buildFilter(f, true, rare)
	if f.After != "" {
		at, id, err := decodeCursor(f.After)
		if err != nil {
			return migrantbot.AppealPage{}, fmt.Errorf("store: list appeals: %w", err)
		}
		q.conds = append(q.conds, "(a.submitted_at, a.id) < ("+q.arg(at)+", "+q.arg(id)+")")
	}
	// The page's keys are found first, from the indexes alone when they can
	// be; only the page's rows are then read from the table.
	keys := `SELECT a.id, a.submitted_at FROM appeals a` + q.where() + `
		ORDER BY a.submitted_at DESC, a.id DESC LIMIT ` + strconv.Itoa(limit+1)
	if rare {
		// Materialized, the matches are planned without the limit: fetched
		// through the search index, then sorted.
		keys = `WITH m AS MATERIALIZED (SELECT a.id, a.submitted_at FROM appeals a` + q.where() + `)
			SELECT id, submitted_at FROM m ORDER BY submitted_at DESC, id DESC LIMIT ` + strconv.Itoa(limit+1)
	}
	sql := `SELECT a.id, a.reference, a.surname, a.first_name, a.citizenship, a.country, a.category, a.language,
			a.status, coalesce(s.email, ''), a.has_news, a.submitted_at
		FROM (` + keys + `) k
		JOIN appeals a ON a.id = k.id
		LEFT JOIN staff s ON s.id = a.assignee_id
		ORDER BY k.submitted_at DESC, k.id DESC`
	// Without a cached statement every query is planned for its own values:
	// a generic plan cannot tell a value in every second appeal from one in
	// a thousandth, and the right plans for the two differ a hundredfold.
	rows, err := s.pool.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, q.args...)...)
	if err != nil {
		return migrantbot.AppealPage{}, fmt.Errorf("store: list appeals: %w", err)
	}
	var (
		page   migrantbot.AppealPage
		lastID int64
	)
	for rows.Next() {
		var (
			r      migrantbot.AppealRow
			status string
			id     int64
		)
		if err := rows.Scan(&id, &r.Reference, &r.Surname, &r.FirstName, &r.Citizenship, &r.Country, &r.Category,
			&r.Language, &status, &r.AssigneeEmail, &r.HasNews, &r.SubmittedAt); err != nil {
			rows.Close()
			return migrantbot.AppealPage{}, fmt.Errorf("store: list appeals: %w", err)
		}
		if err := s.openAll(&r.Surname, &r.FirstName); err != nil {
			rows.Close()
			return migrantbot.AppealPage{}, fmt.Errorf("store: list appeals: %s: %w", r.Reference, err)
		}
		r.Status = migrantbot.Status(status)
		if len(page.Rows) == limit {
			page.Next = encodeCursor(page.Rows[limit-1].SubmittedAt, lastID)
			break
		}
		page.Rows = append(page.Rows, r)
		lastID = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return migrantbot.AppealPage{}, fmt.Errorf("store: list appeals: %w", err)
	}
	if page.Counts, err = s.statusCounts(ctx, f, words); err != nil {
		return migrantbot.AppealPage{}, err
	}
	return page, nil
}

// zeroCounts returns counts per status with every status at 0.
func zeroCounts() map[migrantbot.Status]int {
	counts := make(map[migrantbot.Status]int, len(statuses))
	for _, st := range statuses {
		counts[st] = 0
	}
	return counts
}

// statusCounts counts the appeals of a filter per status, ignoring its
// status; words are the terms of its full-text search. Every status is in
// the map, with 0 when it has none.
//
// A filter of equality conditions alone is answered from appeal_counts, a
// search for one word alone from appeal_word_counts (both kept by a
// trigger); anything else counts the matching rows.
func (s *Store) statusCounts(ctx context.Context, f migrantbot.AppealFilter, words [][]string) (map[migrantbot.Status]int, error) {
	counts := zeroCounts()
	var (
		sql  string
		args []any
	)
	noDates := f.From.IsZero() && f.To.IsZero()
	srch := s.parseSearch(f.Query)
	switch {
	case srch.reference == "" && srch.text == "" && noDates:
		q := countsQuery(f)
		sql, args = `SELECT status, n FROM appeal_counts`+q.where(), q.args
	case srch.text != "" && noDates && f.Category == "" && f.Citizenship == "" && f.Country == "" &&
		f.Language == "" && f.Assignee == 0:
		if len(words) == 1 {
			// A row's tokens are under one key, so the word's counts under
			// each key add up.
			sql, args = `SELECT status, n FROM appeal_word_counts WHERE word = ANY($1::text[])`, []any{words[0]}
			break
		}
		fallthrough
	default:
		q := s.buildFilter(f, false, srch.text != "")
		sql, args = `SELECT a.status, count(*) FROM appeals a`+q.where()+` GROUP BY a.status`, q.args
	}
	rows, err := s.pool.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("store: count appeals per status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("store: count appeals per status: %w", err)
		}
		counts[migrantbot.Status(status)] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count appeals per status: %w", err)
	}
	return counts, nil
}

// equalities counts the equality conditions of f.
func equalities(f migrantbot.AppealFilter) int {
	n := 0
	for _, v := range []string{string(f.Status), f.Category, f.Citizenship, f.Country, f.Language} {
		if v != "" {
			n++
		}
	}
	if f.Assignee != 0 {
		n++
	}
	return n
}

// countsQuery selects the row of appeal_counts per status that counts the
// appeals matching the equality conditions of f (status aside).
func countsQuery(f migrantbot.AppealFilter) listQuery {
	var q listQuery
	for _, d := range []struct{ column, value string }{
		{"category", f.Category}, {"citizenship", f.Citizenship}, {"country", f.Country}, {"language", f.Language},
	} {
		if d.value == "" {
			q.conds = append(q.conds, d.column+" IS NULL")
		} else {
			q.conds = append(q.conds, d.column+" = "+q.arg(d.value))
		}
	}
	switch {
	case f.Assignee == 0:
		q.conds = append(q.conds, "assignee_id IS NULL")
	case f.Assignee < 0:
		q.conds = append(q.conds, "assignee_id = 0")
	default:
		q.conds = append(q.conds, "assignee_id = "+q.arg(f.Assignee))
	}
	return q
}

// searchEstimate returns an estimate of how many appeals match f, whose
// full-text search looks for the terms words, and how many rows an index in
// list order walks for f's equality conditions (which the count tables know
// exactly). The estimate takes the words as independent of each other and
// of the other conditions; dates are left out.
func (s *Store) searchEstimate(ctx context.Context, words [][]string, f migrantbot.AppealFilter) (matches, filtered float64, err error) {
	b := &pgx.Batch{}
	for _, w := range words {
		b.Queue(`SELECT coalesce(sum(n), 0)::bigint FROM appeal_word_counts WHERE word = ANY($1::text[])`, w)
	}
	b.Queue(`SELECT coalesce(sum(n), 0)::bigint FROM appeal_counts WHERE category IS NULL AND citizenship IS NULL
		AND country IS NULL AND language IS NULL AND assignee_id IS NULL`)
	q := countsQuery(f)
	if f.Status != "" {
		q.conds = append(q.conds, "status = "+q.arg(string(f.Status)))
	}
	b.Queue(`SELECT coalesce(sum(n), 0)::bigint FROM appeal_counts`+q.where(), q.args...)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	counts := make([]int64, len(words))
	for i := range words {
		if err := br.QueryRow().Scan(&counts[i]); err != nil {
			return 0, 0, fmt.Errorf("store: search words: %w", err)
		}
	}
	var all, inFilter int64
	if err := br.QueryRow().Scan(&all); err != nil {
		return 0, 0, fmt.Errorf("store: count appeals: %w", err)
	}
	if err := br.QueryRow().Scan(&inFilter); err != nil {
		return 0, 0, fmt.Errorf("store: count appeals: %w", err)
	}
	matches = float64(inFilter)
	for _, n := range counts {
		if all > 0 {
			matches *= float64(n) / float64(all)
		}
	}
	// An index in list order that holds one equality condition walks only
	// its rows; with several, the walk is the whole list's.
	filtered = float64(all)
	if equalities(f) == 1 {
		filtered = float64(inFilter)
	}
	return matches, filtered, br.Close()
}

// ExportAppeals calls each with every appeal matching f (its After and Limit
// aside), newest first, and the email of its assignee ("" when unassigned).
// The appeals stream from one query, without their attachments, so any
// number can be exported. An error from each stops the export and is
// returned wrapped.
func (s *Store) ExportAppeals(ctx context.Context, f migrantbot.AppealFilter, each func(a migrantbot.Appeal, assignee string) error) error {
	q := s.buildFilter(f, true, false)
	sql := `SELECT ` + appealColumns + `, coalesce(s.email, '')
		FROM appeals a LEFT JOIN staff s ON s.id = a.assignee_id` + q.where() + `
		ORDER BY a.submitted_at DESC, a.id DESC`
	rows, err := s.pool.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, q.args...)...)
	if err != nil {
		return fmt.Errorf("store: export appeals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var assignee string
		a, err := s.scanAppeal(rows, &assignee)
		if err != nil {
			return fmt.Errorf("store: export appeals: %w", err)
		}
		if err := each(a, assignee); err != nil {
			return fmt.Errorf("store: export appeals: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export appeals: %w", err)
	}
	return nil
}

// statsWeeks is how many weeks the chart of appeals per week shows.
const statsWeeks = 26

// Stats returns the figures of the statistics page: appeals per week over
// the last 26 weeks (weeks start on Monday, UTC; the current week last),
// appeals by category, citizenship and country of residence (largest first)
// and by status (in the order of an appeal's life), and the median time from
// submission to the first reply.
func (s *Store) Stats(ctx context.Context) (migrantbot.Stats, error) {
	now := time.Now().UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	monday := today.AddDate(0, 0, -((int(today.Weekday()) + 6) % 7))
	first := monday.AddDate(0, 0, -7*(statsWeeks-1))

	b := &pgx.Batch{}
	b.Queue(`SELECT date_trunc('week', submitted_at AT TIME ZONE 'UTC')::date, count(*)
		FROM appeals WHERE submitted_at >= $1 GROUP BY 1`, first)
	// The totals of appeal_counts: a NULL there is any value.
	const totals = ` FROM appeal_counts WHERE %s IS NOT NULL AND %s IS NULL AND %s IS NULL AND %s IS NULL AND assignee_id IS NULL
		GROUP BY 1 HAVING sum(n) > 0 ORDER BY 2 DESC, 1`
	for _, dims := range [][4]string{
		{"category", "citizenship", "country", "language"},
		{"citizenship", "category", "country", "language"},
		{"country", "category", "citizenship", "language"},
	} {
		b.Queue(`SELECT ` + dims[0] + `, sum(n)::bigint` + fmt.Sprintf(totals, dims[0], dims[1], dims[2], dims[3]))
	}
	b.Queue(`SELECT status, n FROM appeal_counts WHERE category IS NULL AND citizenship IS NULL AND country IS NULL
		AND language IS NULL AND assignee_id IS NULL`)
	// The median is read from the middle of the index of times to a first
	// answer (the mean of the two middle ones for an even count), without
	// sorting them all.
	b.Queue(`WITH n AS (SELECT count(*) AS n FROM appeals WHERE first_answer_seconds IS NOT NULL)
		SELECT n.n, coalesce((SELECT avg(x) FROM (
			SELECT first_answer_seconds AS x FROM appeals WHERE first_answer_seconds IS NOT NULL
			ORDER BY first_answer_seconds OFFSET (n.n - 1) / 2 LIMIT 2 - n.n % 2) m), 0)::float8
		FROM n`)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()

	var st migrantbot.Stats
	perWeek, err := collectCounts(br, func(row pgx.CollectableRow) (countRow, error) {
		var (
			week time.Time
			n    int
		)
		err := row.Scan(&week, &n)
		return countRow{week.Format(time.DateOnly), n}, err
	})
	if err != nil {
		return migrantbot.Stats{}, fmt.Errorf("store: stats per week: %w", err)
	}
	byWeek := make(map[string]int, len(perWeek))
	for _, c := range perWeek {
		byWeek[c.Label] = c.N
	}
	for i := range statsWeeks {
		label := first.AddDate(0, 0, 7*i).Format(time.DateOnly)
		st.PerWeek = append(st.PerWeek, migrantbot.Count{Label: label, N: byWeek[label]})
	}
	for _, dst := range []*[]migrantbot.Count{&st.ByCategory, &st.ByCitizenship, &st.ByCountry} {
		list, err := collectCounts(br, pgx.RowToStructByPos[countRow])
		if err != nil {
			return migrantbot.Stats{}, fmt.Errorf("store: stats: %w", err)
		}
		*dst = toCounts(list)
	}
	byStatus, err := collectCounts(br, pgx.RowToStructByPos[countRow])
	if err != nil {
		return migrantbot.Stats{}, fmt.Errorf("store: stats by status: %w", err)
	}
	n := make(map[string]int, len(byStatus))
	for _, c := range byStatus {
		n[c.Label] = c.N
	}
	for _, status := range statuses {
		st.ByStatus = append(st.ByStatus, migrantbot.Count{Label: string(status), N: n[string(status)]})
	}
	var seconds float64
	if err := br.QueryRow().Scan(&st.Answered, &seconds); err != nil {
		return migrantbot.Stats{}, fmt.Errorf("store: stats first answer: %w", err)
	}
	st.MedianFirstAnswer = time.Duration(seconds * float64(time.Second)).Round(time.Second)
	if err := br.Close(); err != nil {
		return migrantbot.Stats{}, fmt.Errorf("store: stats: %w", err)
	}
	return st, nil
}

// countRow is one row of a count query, scanned by position.
type countRow struct {
	Label string
	N     int
}

func collectCounts(br pgx.BatchResults, fn pgx.RowToFunc[countRow]) ([]countRow, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, fn)
}

func toCounts(list []countRow) []migrantbot.Count {
	out := make([]migrantbot.Count, len(list))
	for i, c := range list {
		out[i] = migrantbot.Count(c)
	}
	return out
}
