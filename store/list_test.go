package store_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store/storetest"
)

// listed is one seeded appeal as the tests model it.
type listed struct {
	ref         string
	status      migrantbot.Status
	category    string
	citizenship string
	country     string
	language    string
	assignee    int64
	at          time.Time
}

// matches is the model of a filter without its search.
func (l listed) matches(f migrantbot.AppealFilter, withStatus bool) bool {
	switch {
	case withStatus && f.Status != "" && l.status != f.Status,
		f.Category != "" && l.category != f.Category,
		f.Citizenship != "" && l.citizenship != f.Citizenship,
		f.Country != "" && l.country != f.Country,
		f.Language != "" && l.language != f.Language,
		f.Assignee > 0 && l.assignee != f.Assignee,
		f.Assignee < 0 && l.assignee != 0,
		!f.From.IsZero() && l.at.Before(f.From),
		!f.To.IsZero() && !l.at.Before(f.To):
		return false
	}
	return true
}

// expect returns the references a filter must list, in order, and its
// counts per status.
func expect(seeds []listed, f migrantbot.AppealFilter) ([]string, map[migrantbot.Status]int) {
	var refs []string
	counts := zeroCounts()
	// Seeds are in submission order, with increasing ids.
	for i := len(seeds) - 1; i >= 0; i-- {
		if seeds[i].matches(f, true) {
			refs = append(refs, seeds[i].ref)
		}
	}
	slices.SortStableFunc(refs, func(a, b string) int {
		return seedAt(seeds, b).Compare(seedAt(seeds, a))
	})
	for _, l := range seeds {
		if l.matches(f, false) {
			counts[l.status]++
		}
	}
	return refs, counts
}

func seedAt(seeds []listed, ref string) time.Time {
	for _, l := range seeds {
		if l.ref == ref {
			return l.at
		}
	}
	return time.Time{}
}

func zeroCounts() map[migrantbot.Status]int {
	m := map[migrantbot.Status]int{}
	for _, st := range []migrantbot.Status{migrantbot.StatusNew, migrantbot.StatusInReview, migrantbot.StatusReferred,
		migrantbot.StatusAnswered, migrantbot.StatusClosed, migrantbot.StatusRejected} {
		m[st] = 0
	}
	return m
}

func refsOf(rows []migrantbot.AppealRow) []string {
	refs := make([]string, len(rows))
	for i, r := range rows {
		refs[i] = r.Reference
	}
	return refs
}

func TestListAppealsFilters(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	omar := newStaff(t, s, "omar@ombudsman.example", migrantbot.RoleReviewer)
	base := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

	seeds := []listed{
		{status: "new", category: "labour", citizenship: "UZ", country: "RU", language: "ru"},
		{status: "new", category: "labour", citizenship: "TJ", country: "RU", language: "ru", assignee: anna.ID},
		{status: "in_review", category: "documents", citizenship: "UZ", country: "AZ", language: "az", assignee: anna.ID},
		{status: "in_review", category: "detention", citizenship: "GE", country: "TR", language: "en"},
		{status: "referred", category: "labour", citizenship: "UZ", country: "AZ", language: "ru", assignee: omar.ID},
		{status: "answered", category: "family", citizenship: "TJ", country: "RU", language: "az"},
		{status: "closed", category: "labour", citizenship: "UZ", country: "RU", language: "ru", assignee: anna.ID},
		{status: "rejected", category: "other", citizenship: "KG", country: "KZ", language: "en", assignee: omar.ID},
		{status: "new", category: "documents", citizenship: "UZ", country: "AZ", language: "az"},
		{status: "new", category: "labour", citizenship: "UZ", country: "RU", language: "ru", assignee: anna.ID},
	}
	for i := range seeds {
		l := &seeds[i]
		l.ref = submit(t, s, migrantbot.Appeal{UserID: int64(100 + i), Language: l.language, Surname: "Doe", FirstName: "Jane",
			Category: l.category, Citizenship: l.citizenship, Country: l.country, Description: "text"})
		// Days apart, except two at the same instant: the id breaks the tie.
		l.at = base.AddDate(0, 0, 3*i)
		if i == 9 {
			l.at = seeds[8].at
		}
		setSubmitted(t, s, l.ref, l.at)
		exec(t, s, `UPDATE appeals SET status = $2 WHERE reference = $1`, l.ref, string(l.status))
		if l.assignee != 0 {
			must(t, "Assign", s.Assign(ctx, boss, l.ref, l.assignee))
		}
	}

	filters := []struct {
		name string
		f    migrantbot.AppealFilter
	}{
		{"everything", migrantbot.AppealFilter{}},
		{"status", migrantbot.AppealFilter{Status: migrantbot.StatusNew}},
		{"category", migrantbot.AppealFilter{Category: "labour"}},
		{"citizenship", migrantbot.AppealFilter{Citizenship: "UZ"}},
		{"country", migrantbot.AppealFilter{Country: "RU"}},
		{"language", migrantbot.AppealFilter{Language: "az"}},
		{"assignee", migrantbot.AppealFilter{Assignee: anna.ID}},
		{"unassigned", migrantbot.AppealFilter{Assignee: -1}},
		{"from", migrantbot.AppealFilter{From: base.AddDate(0, 0, 12)}},
		{"to", migrantbot.AppealFilter{To: base.AddDate(0, 0, 6)}},
		{"date range", migrantbot.AppealFilter{From: base.AddDate(0, 0, 3), To: base.AddDate(0, 0, 15)}},
		{"category and country", migrantbot.AppealFilter{Category: "labour", Country: "RU"}},
		{"status, category and language", migrantbot.AppealFilter{Status: migrantbot.StatusNew, Category: "labour", Language: "ru"}},
		{"all equality filters", migrantbot.AppealFilter{Category: "labour", Citizenship: "UZ", Country: "RU", Language: "ru", Assignee: anna.ID}},
		{"unassigned labour", migrantbot.AppealFilter{Category: "labour", Assignee: -1}},
		{"status and dates", migrantbot.AppealFilter{Status: migrantbot.StatusInReview, From: base, To: base.AddDate(0, 0, 20)}},
		{"filters and dates", migrantbot.AppealFilter{Citizenship: "UZ", Language: "ru", From: base.AddDate(0, 0, 1)}},
		{"nothing matches", migrantbot.AppealFilter{Category: "trafficking"}},
		{"unknown assignee", migrantbot.AppealFilter{Assignee: 999}},
	}
	check := func(t *testing.T) {
		t.Helper()
		for _, tc := range filters {
			t.Run(tc.name, func(t *testing.T) {
				page, err := s.ListAppeals(ctx, tc.f)
				must(t, "ListAppeals", err)
				wantRefs, wantCounts := expect(seeds, tc.f)
				if got := refsOf(page.Rows); !slices.Equal(got, wantRefs) {
					t.Errorf("rows: got %v, want %v", got, wantRefs)
				}
				if !maps.Equal(page.Counts, wantCounts) {
					t.Errorf("counts: got %v, want %v", page.Counts, wantCounts)
				}
				if page.Next != "" {
					t.Errorf("Next on the only page: got %q, want none", page.Next)
				}
			})
		}
	}
	t.Run("seeded", check)

	// The counts follow status changes, reassignments and new appeals.
	must(t, "ChangeStatus", s.ChangeStatus(ctx, boss, seeds[0].ref, migrantbot.StatusInReview, "", nil))
	seeds[0].status = migrantbot.StatusInReview
	must(t, "ChangeStatus", s.ChangeStatus(ctx, boss, seeds[1].ref, migrantbot.StatusRejected, "not our mandate", nil))
	seeds[1].status = migrantbot.StatusRejected
	must(t, "Assign", s.Assign(ctx, boss, seeds[2].ref, omar.ID))
	seeds[2].assignee = omar.ID
	must(t, "Assign", s.Assign(ctx, boss, seeds[4].ref, 0))
	seeds[4].assignee = 0
	extra := listed{status: "new", category: "labour", citizenship: "UZ", country: "RU", language: "ru", at: base.AddDate(0, 0, 40)}
	extra.ref = submit(t, s, migrantbot.Appeal{UserID: 200, Language: "ru", Category: "labour", Citizenship: "UZ", Country: "RU"})
	setSubmitted(t, s, extra.ref, extra.at)
	seeds = append(seeds, extra)
	t.Run("after changes", check)

	// A row carries what the list shows.
	page, err := s.ListAppeals(ctx, migrantbot.AppealFilter{Assignee: anna.ID, Limit: 1})
	must(t, "ListAppeals", err)
	want := migrantbot.AppealRow{Reference: seeds[9].ref, Surname: "Doe", FirstName: "Jane", Citizenship: "UZ", Country: "RU",
		Category: "labour", Language: "ru", Status: migrantbot.StatusNew, AssigneeEmail: anna.Email, SubmittedAt: seeds[9].at}
	if len(page.Rows) != 1 || !page.Rows[0].SubmittedAt.Equal(want.SubmittedAt) {
		t.Fatalf("first row of anna's: got %+v, want %+v", page.Rows, want)
	}
	page.Rows[0].SubmittedAt = want.SubmittedAt
	if page.Rows[0] != want {
		t.Errorf("row: got %+v, want %+v", page.Rows[0], want)
	}
}

func TestListAppealsSearch(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	people := []migrantbot.Appeal{
		{Surname: "Иванов", FirstName: "Иван", Patronymic: "Петрович", Language: "ru", Description: "Работодатель забрал паспорт."},
		{Surname: "İsmayılov", FirstName: "İlham", Language: "az", Description: "Pasportumu geri vermirlər!"},
		{Surname: "Əliyev", FirstName: "Vüsal", Language: "az", Description: "Maaş ödənilmədi, üç ay."},
		{Surname: "Smith", FirstName: "John", Language: "en", Description: "My employer took my passport."},
		{Surname: "Иванова", FirstName: "Ольга", Language: "ru", Description: "Задержали в аэропорту, паспорт у полиции."},
	}
	refs := make([]string, len(people))
	for i, a := range people {
		a.UserID = int64(300 + i)
		a.Category = "documents"
		refs[i] = submit(t, s, a)
		setSubmitted(t, s, refs[i], time.Date(2026, 2, 1+i, 0, 0, 0, 0, time.UTC))
	}
	year := refs[0][:len("AP-2026-")]
	newest := func(idx ...int) []string {
		var out []string
		for i := len(refs) - 1; i >= 0; i-- {
			if slices.Contains(idx, i) {
				out = append(out, refs[i])
			}
		}
		return out
	}

	tests := []struct {
		name  string
		f     migrantbot.AppealFilter
		want  []string
		count int // appeals counted, all new
	}{
		{"Cyrillic surname, any case", migrantbot.AppealFilter{Query: "иванов"}, newest(0), 1},
		{"Cyrillic surname in capitals", migrantbot.AppealFilter{Query: "ИВАНОВ"}, newest(0), 1},
		{"patronymic", migrantbot.AppealFilter{Query: "петрович"}, newest(0), 1},
		{"first and last name", migrantbot.AppealFilter{Query: "Иван Иванов"}, newest(0), 1},
		{"Azerbaijani İ typed as i", migrantbot.AppealFilter{Query: "ilham"}, newest(1), 1},
		{"Azerbaijani İ as İ", migrantbot.AppealFilter{Query: "İLHAM İSMAYILOV"}, newest(1), 1},
		{"Azerbaijani ı typed as i", migrantbot.AppealFilter{Query: "Ismayilov"}, newest(1), 1},
		{"Azerbaijani Ə", migrantbot.AppealFilter{Query: "ƏLİYEV"}, newest(2), 1},
		{"description word az", migrantbot.AppealFilter{Query: "ödənilmədi"}, newest(2), 1},
		{"description word ru", migrantbot.AppealFilter{Query: "паспорт"}, newest(0, 4), 2},
		{"description word en", migrantbot.AppealFilter{Query: "Passport"}, newest(3), 1},
		{"two words of one appeal", migrantbot.AppealFilter{Query: "john passport"}, newest(3), 1},
		{"two words of different appeals", migrantbot.AppealFilter{Query: "john паспорт"}, nil, 0},
		{"word and filter", migrantbot.AppealFilter{Query: "паспорт", Language: "ru", From: time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)}, newest(4), 1},
		{"reference", migrantbot.AppealFilter{Query: refs[2]}, newest(2), 1},
		{"reference in lower case", migrantbot.AppealFilter{Query: strings.ToLower(refs[3])}, newest(3), 1},
		{"reference prefix", migrantbot.AppealFilter{Query: year}, newest(0, 1, 2, 3, 4), 5},
		{"unknown word", migrantbot.AppealFilter{Query: "visa"}, nil, 0},
		{"punctuation only", migrantbot.AppealFilter{Query: "!!! ..."}, nil, 0},
		{"markup is text", migrantbot.AppealFilter{Query: "<script>alert(1)</script>"}, nil, 0},
	}
	check := func(t *testing.T, status migrantbot.Status) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				page, err := s.ListAppeals(ctx, tc.f)
				must(t, "ListAppeals", err)
				if got := refsOf(page.Rows); !slices.Equal(got, tc.want) {
					t.Errorf("rows: got %v, want %v", got, tc.want)
				}
				want := zeroCounts()
				want[status] = tc.count
				if !maps.Equal(page.Counts, want) {
					t.Errorf("counts: got %v, want %v", page.Counts, want)
				}
			})
		}
	}
	t.Run("new", func(t *testing.T) { check(t, migrantbot.StatusNew) })
	for _, ref := range refs {
		must(t, "ChangeStatus", s.ChangeStatus(ctx, boss, ref, migrantbot.StatusInReview, "", nil))
	}
	// The counts of words follow the status.
	t.Run("in review", func(t *testing.T) { check(t, migrantbot.StatusInReview) })
}

func TestListAppealsPages(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	// 23 appeals, in groups of three submitted at the same instant.
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var want, sparse []string
	for i := range 23 {
		category := "labour"
		if i%2 == 1 {
			category = "family"
		}
		description := "common words"
		if i%7 == 0 {
			description += " sparse"
		}
		ref := submit(t, s, migrantbot.Appeal{UserID: int64(400 + i), Category: category, Description: description})
		setSubmitted(t, s, ref, base.Add(time.Duration(i/3)*time.Hour))
		want = append([]string{ref}, want...)
		if i%7 == 0 {
			sparse = append([]string{ref}, sparse...)
		}
	}
	labour := slices.DeleteFunc(slices.Clone(want), func(ref string) bool {
		a, err := s.Appeal(ctx, ref)
		must(t, "Appeal", err)
		return a.Category != "labour"
	})

	for _, tc := range []struct {
		name string
		f    migrantbot.AppealFilter
		want []string
	}{
		{"all", migrantbot.AppealFilter{Limit: 5}, want},
		{"one category", migrantbot.AppealFilter{Category: "labour", Limit: 4}, labour},
		{"one per page", migrantbot.AppealFilter{Category: "labour", Limit: 1}, labour},
		{"exactly one page", migrantbot.AppealFilter{Limit: 23}, want},
		// A word in every appeal is found walking the list in order, a rare
		// one by fetching its appeals and sorting them: both page alike.
		{"common word", migrantbot.AppealFilter{Query: "common", Limit: 5}, want},
		{"common word and category", migrantbot.AppealFilter{Query: "words", Category: "labour", Limit: 2}, labour},
		{"rare word", migrantbot.AppealFilter{Query: "sparse", Limit: 1}, sparse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			f := tc.f
			for pages := 0; ; pages++ {
				if pages > len(tc.want) {
					t.Fatalf("more pages than appeals")
				}
				page, err := s.ListAppeals(ctx, f)
				must(t, "ListAppeals", err)
				if len(page.Rows) > tc.f.Limit {
					t.Fatalf("page of %d rows, limit %d", len(page.Rows), tc.f.Limit)
				}
				got = append(got, refsOf(page.Rows)...)
				if page.Next == "" {
					break
				}
				f.After = page.Next
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("pages together: got %v, want %v", got, tc.want)
			}
		})
	}

	_, err := s.ListAppeals(ctx, migrantbot.AppealFilter{After: "yesterday"})
	wantCode(t, "ListAppeals with a bad cursor", err, migrantbot.EINVALID)

	// Page sizes: 50 by default, 200 at most.
	exec(t, s, `INSERT INTO appeals (reference, user_id, chat_id, category, submitted_at)
		SELECT 'AP-2020-' || lpad(i::text, 6, '0'), i, i, 'labour', now() - i * interval '1 minute'
		FROM generate_series(1, 230) i`)
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {120, 120}, {1000, 200}} {
		page, err := s.ListAppeals(ctx, migrantbot.AppealFilter{Limit: tc.limit})
		must(t, "ListAppeals", err)
		if len(page.Rows) != tc.want || page.Next == "" {
			t.Errorf("Limit %d: got %d rows (next %q), want %d and a next page", tc.limit, len(page.Rows), page.Next, tc.want)
		}
	}
}

func TestExportAppeals(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	first := submit(t, s, migrantbot.Appeal{UserID: 7, Surname: "Əliyev", Category: "labour", Phone: "+994500000000",
		Attachments: []migrantbot.Attachment{{FileID: "f", FileUniqueID: "u", Kind: "photo"}}})
	must(t, "Assign", s.Assign(ctx, boss, first, boss.ID))
	exec(t, s, `INSERT INTO appeals (reference, user_id, chat_id, category, submitted_at)
		SELECT 'AP-2020-' || lpad(i::text, 6, '0'), i, i, CASE WHEN i % 2 = 0 THEN 'labour' ELSE 'family' END,
			now() - i * interval '1 minute'
		FROM generate_series(1, 500) i`)

	var got []string
	err := s.ExportAppeals(ctx, migrantbot.AppealFilter{Category: "labour", Limit: 10, After: "ignored"}, func(a migrantbot.Appeal, assignee string) error {
		if a.Category != "labour" {
			t.Errorf("exported %s of category %s", a.Reference, a.Category)
		}
		if a.Reference == first && (assignee != boss.Email || a.Surname != "Əliyev" || a.Phone != "+994500000000") {
			t.Errorf("exported %+v assigned to %q", a, assignee)
		}
		got = append(got, a.Reference)
		return nil
	})
	must(t, "ExportAppeals", err)
	want := []string{first}
	for i := 2; i <= 500; i += 2 {
		want = append(want, fmt.Sprintf("AP-2020-%06d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("exported %d appeals (first %v), want %d, newest first", len(got), got[:min(3, len(got))], len(want))
	}

	stop := errors.New("client gone")
	n := 0
	err = s.ExportAppeals(ctx, migrantbot.AppealFilter{}, func(migrantbot.Appeal, string) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		t.Errorf("export stopped by its callback: got %v after %d appeals, want %v after 3", err, n, stop)
	}
}

func TestStats(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	now := time.Now().UTC()
	for i, a := range []migrantbot.Appeal{
		{Category: "labour", Citizenship: "UZ", Country: "RU"},
		{Category: "labour", Citizenship: "UZ", Country: "AZ"},
		{Category: "labour", Citizenship: "TJ", Country: "RU"},
		{Category: "family", Citizenship: "UZ", Country: "RU"},
		{Category: "detention", Citizenship: "GE", Country: "TR"},
	} {
		a.UserID = int64(500 + i)
		ref := submit(t, s, a)
		// Two this week, one last week, one 10 weeks ago, one a year ago.
		at := []time.Time{now, now, now.AddDate(0, 0, -7), now.AddDate(0, 0, -70), now.AddDate(-1, 0, 0)}[i]
		setSubmitted(t, s, ref, at)
		if i < 3 {
			must(t, "Reply", s.Reply(ctx, boss, ref, "We are on it.", migrantbot.Message{Text: "reply"}))
			// First answers after 1, 2 and 6 hours: the median is 2.
			exec(t, s, `UPDATE appeals SET first_answer_at = submitted_at + $2::int * interval '1 hour' WHERE reference = $1`,
				ref, []int{1, 2, 6}[i])
		}
		if i == 0 {
			must(t, "ChangeStatus", s.ChangeStatus(ctx, boss, ref, migrantbot.StatusAnswered, "", nil))
		}
	}

	st, err := s.Stats(ctx)
	must(t, "Stats", err)
	if len(st.PerWeek) != 26 {
		t.Fatalf("PerWeek: got %d weeks, want 26", len(st.PerWeek))
	}
	for i, c := range st.PerWeek {
		day, err := time.Parse(time.DateOnly, c.Label)
		if err != nil || day.Weekday() != time.Monday {
			t.Errorf("week %d label %q is not a Monday", i, c.Label)
		}
	}
	var weekCounts []int
	for _, c := range st.PerWeek {
		weekCounts = append(weekCounts, c.N)
	}
	wantWeeks := make([]int, 26)
	wantWeeks[25], wantWeeks[24], wantWeeks[15] = 2, 1, 1
	if !slices.Equal(weekCounts, wantWeeks) {
		t.Errorf("PerWeek: got %v, want %v", weekCounts, wantWeeks)
	}
	if this := st.PerWeek[25].Label; this > now.Format(time.DateOnly) || now.Sub(mustDay(t, this)) >= 7*24*time.Hour {
		t.Errorf("last week %s is not the current one (today %s)", this, now.Format(time.DateOnly))
	}
	for _, tc := range []struct {
		name      string
		got, want []migrantbot.Count
	}{
		{"ByCategory", st.ByCategory, counts("labour", 3, "detention", 1, "family", 1)},
		{"ByCitizenship", st.ByCitizenship, counts("UZ", 3, "GE", 1, "TJ", 1)},
		{"ByCountry", st.ByCountry, counts("RU", 3, "AZ", 1, "TR", 1)},
		{"ByStatus", st.ByStatus, counts("new", 4, "in_review", 0, "referred", 0, "answered", 1, "closed", 0, "rejected", 0)},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if st.MedianFirstAnswer != 2*time.Hour || st.Answered != 3 {
		t.Errorf("first answer: got median %v over %d, want 2h over 3", st.MedianFirstAnswer, st.Answered)
	}
	// With an even count the median is between the two middle times.
	exec(t, s, `UPDATE appeals SET first_answer_at = submitted_at + interval '10 hours' WHERE category = 'family'`)
	st, err = s.Stats(ctx)
	must(t, "Stats", err)
	if st.MedianFirstAnswer != 4*time.Hour || st.Answered != 4 {
		t.Errorf("first answer: got median %v over %d, want 4h over 4", st.MedianFirstAnswer, st.Answered)
	}

	empty, err := storetest.NewStore(t).Stats(ctx)
	must(t, "Stats of an empty database", err)
	if empty.Answered != 0 || empty.MedianFirstAnswer != 0 || len(empty.ByCategory) != 0 || len(empty.PerWeek) != 26 {
		t.Errorf("Stats of an empty database: got %+v", empty)
	}
}

// counts makes chart bars from label, n pairs.
func counts(pairs ...any) []migrantbot.Count {
	var out []migrantbot.Count
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, migrantbot.Count{Label: pairs[i].(string), N: pairs[i+1].(int)})
	}
	return out
}

func mustDay(tb testing.TB, s string) time.Time {
	tb.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestCountTablesFollowChanges changes appeals in every way the database
// allows, several at a time and from several connections at once, and
// checks that the counts the list uses equal counting the appeals.
func TestCountTablesFollowChanges(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	exec(t, s, `INSERT INTO appeals (reference, user_id, chat_id, status, category, citizenship, country, language, surname, description)
		SELECT 'AP-2020-' || lpad(i::text, 6, '0'), i, i,
			(ARRAY['new','in_review','referred','answered','closed','rejected'])[1 + i % 6],
			(ARRAY['labour','family','documents'])[1 + i % 3], (ARRAY['UZ','TJ'])[1 + i % 2],
			(ARRAY['RU','AZ','TR','KZ'])[1 + i % 4], (ARRAY['az','ru','en'])[1 + i % 3],
			(ARRAY['Иванов','Əliyev','Smith','İsmayılov'])[1 + i % 4], 'passport ' || (ARRAY['visa','maaş','паспорт'])[1 + i % 3]
		FROM generate_series(1, 300) i`)
	for _, sql := range []string{
		`UPDATE appeals SET status = 'closed' WHERE id % 7 = 0`,
		`UPDATE appeals SET assignee_id = ` + fmt.Sprint(anna.ID) + ` WHERE id % 5 = 0`,
		`UPDATE appeals SET assignee_id = ` + fmt.Sprint(boss.ID) + `, category = 'other' WHERE id % 11 = 0`,
		`UPDATE appeals SET description = 'új szó ' || description, surname = 'Петров' WHERE id % 13 = 0`,
		`UPDATE appeals SET has_news = true WHERE id % 2 = 0`,
		`DELETE FROM appeals WHERE id % 17 = 0`,
	} {
		exec(t, s, sql)
	}
	// Staff working on the same appeals at once must neither deadlock nor
	// lose a count.
	errs := make(chan error, 40)
	for w := range 4 {
		go func() {
			for i := range 10 {
				ref := fmt.Sprintf("AP-2020-%06d", 1+(w*10+i)%40)
				err := s.ChangeStatus(ctx, boss, ref, migrantbot.StatusRejected, "test", nil)
				if code := migrantbot.ErrorCode(err); code == migrantbot.EINVALID || code == migrantbot.ENOTFOUND {
					err = nil
				}
				if err == nil {
					err = s.Assign(ctx, boss, ref, []int64{0, anna.ID, boss.ID}[i%3])
					if migrantbot.ErrorCode(err) == migrantbot.ENOTFOUND {
						err = nil
					}
				}
				errs <- err
			}
		}()
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent change: %v", err)
		}
	}

	for name, sql := range map[string]string{
		"appeal_counts": `
			(SELECT category, citizenship, country, language, assignee_id, status, n FROM appeal_counts WHERE n <> 0
			 EXCEPT
			 SELECT category, citizenship, country, language, assignee, status, count(*)
			 FROM (SELECT status, category, citizenship, country, language, coalesce(assignee_id, 0) AS assignee FROM appeals) x
			 GROUP BY status, CUBE (category, citizenship, country, language, assignee))
			UNION ALL
			(SELECT category, citizenship, country, language, assignee, status, count(*)
			 FROM (SELECT status, category, citizenship, country, language, coalesce(assignee_id, 0) AS assignee FROM appeals) x
			 GROUP BY status, CUBE (category, citizenship, country, language, assignee)
			 EXCEPT
			 SELECT category, citizenship, country, language, assignee_id, status, n FROM appeal_counts WHERE n <> 0)`,
		"appeal_word_counts": `
			(SELECT word, status, n FROM appeal_word_counts WHERE n <> 0
			 EXCEPT
			 SELECT w, status, count(*) FROM appeals, unnest(tsvector_to_array(search)) w GROUP BY w, status)
			UNION ALL
			(SELECT w, status, count(*) FROM appeals, unnest(tsvector_to_array(search)) w GROUP BY w, status
			 EXCEPT
			 SELECT word, status, n FROM appeal_word_counts WHERE n <> 0)`,
	} {
		if n := count(t, s, `SELECT count(*) FROM (`+sql+`) d`); n != 0 {
			t.Errorf("%s differs from counting the appeals in %d groups", name, n)
		}
	}
	if n := count(t, s, `SELECT count(*) FROM appeal_counts WHERE n < 0`); n != 0 {
		t.Errorf("negative counts: %d", n)
	}
}
