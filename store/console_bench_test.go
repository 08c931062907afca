package store_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// benchAppeals is how many appeals BenchmarkConsoleQueries loads.
const benchAppeals = 1_000_000

// The values the loaded appeals take, from small lists as in life: a few
// values are common and many rare (the lists are drawn from with a skew).
var (
	benchCategories   = migrantbot.Categories
	benchCitizenships = []string{"UZ", "TJ", "KG", "RU", "UA", "GE", "TR", "IR", "IN", "PK", "BD", "AF", "SY", "NG", "CN"}
	benchCountries    = []string{"AZ", "RU", "TR", "DE", "GE", "UA", "KZ", "AE", "GB", "US"}
	benchLanguages    = []string{"az", "ru", "en"}
	benchSurnames     = []string{"Məmmədov", "Əliyev", "Hüseynov", "Quliyev", "İsmayılov", "Həsənov", "Rzayev", "Kərimov",
		"Иванов", "Петров", "Сидоров", "Каримов", "Рахимов", "Юсупов", "Ахмедов", "Назаров", "Smith", "Khan", "Rahman",
		"Yilmaz", "Tashkentov", "Ergashev", "Nurmatov", "Sharipov", "Safarov", "Bakirov", "Ozturk", "Demir", "Kaya", "Sultanov"}
	benchFirstNames = []string{"Əli", "Vüsal", "Rəşad", "Elnur", "Aynur", "Günay", "Иван", "Алишер", "Фарход", "Дилноза",
		"Шахноза", "Рустам", "Jamshid", "Bobur", "Aziz", "Mohammed", "Ahmed", "Fatima", "Olga", "Nodira"}
	benchWords = []string{"pasport", "işəgötürən", "maaş", "ödənilmədi", "polis", "saxlanıldı", "sənəd", "viza",
		"deportasiya", "konsulluq", "паспорт", "работодатель", "зарплата", "задержали", "полиция", "документы", "виза",
		"депортация", "консульство", "семья", "passport", "employer", "salary", "unpaid", "police", "detained",
		"documents", "visa", "deportation", "embassy", "my", "the", "was", "not", "and", "for", "months", "three",
		"since", "they", "took", "said", "no", "help", "please", "mənim", "və", "üç", "ay", "они", "мне", "не", "три",
		"месяца", "помогите", "работа"}
)

// sqlArray writes a Go list as an SQL array literal of text.
func sqlArray(list []string) string {
	quoted := make([]string, len(list))
	for i, v := range list {
		quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return "ARRAY[" + strings.Join(quoted, ",") + "]"
}

// pick draws from list with a skew: power 1 is uniform, higher favours the
// first values.
func pick(list []string, power float64) string {
	return fmt.Sprintf("(%s)[1 + floor(power(random(), %g) * %d)::int]", sqlArray(list), power, len(list))
}

// loadAppeals fills the database with n appeals over the last three years,
// in one statement, as a realistic spread of statuses, categories,
// citizenships, countries, languages, assignees, names and descriptions of
// four to twelve words.
func loadAppeals(tb testing.TB, s *store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		tb.Fatalf("acquire: %v", err)
	}
	defer conn.Release()
	// Generous memory for the load's one big grouping in the counts trigger.
	for _, sql := range []string{
		`SET work_mem = '256MB'`,
		`SET maintenance_work_mem = '512MB'`,
		`INSERT INTO staff (email, role, password_hash)
			SELECT 'reviewer' || g || '@ombudsman.example', 'reviewer', 'x' FROM generate_series(1, 10) g`,
		`INSERT INTO appeals (reference, user_id, chat_id, language, status, surname, first_name, patronymic,
			citizenship, country, city, category, occurred, description, submitted_at, assignee_id, has_news, first_answer_at)
		SELECT format('AP-%s-%s', extract(year FROM t), lpad(i::text, greatest(6, length(i::text)), '0')),
			u, u, lang, st, sur, fir, pat, cit, cou, 'Baku', cat, 'this_month', descr, t,
			CASE WHEN random() < 0.4 THEN NULL ELSE (SELECT min(id) FROM staff) + floor(random() * 10)::bigint END,
			random() < 0.05,
			CASE WHEN st IN ('answered', 'closed') THEN t + random() * interval '20 days' END
		FROM (
			SELECT i,
				1000 + (random() * 300000)::bigint AS u,
				now() - random() * interval '3 years' AS t,
				` + pick(benchLanguages, 1.5) + ` AS lang,
				` + pick([]string{"closed", "answered", "new", "in_review", "referred", "rejected"}, 1.5) + ` AS st,
				` + pick(benchSurnames, 1.3) + ` AS sur,
				` + pick(benchFirstNames, 1) + ` AS fir,
				` + pick([]string{"", "", "", "Иванович", "Алиевич", "oğlu", "qızı", "Рустамович"}, 1) + ` AS pat,
				` + pick(benchCitizenships, 1.4) + ` AS cit,
				` + pick(benchCountries, 1.6) + ` AS cou,
				` + pick(benchCategories, 1.2) + ` AS cat,
				(SELECT string_agg(` + pick(benchWords, 1) + `, ' ') FROM generate_series(1, 4 + (i % 9))) AS descr
			FROM generate_series(1, ` + fmt.Sprint(n) + `) i
		) x`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			tb.Fatalf("load appeals: %.60s...: %v", sql, err)
		}
	}
	// The rows went in plain, as from before encryption: a rotation seals
	// them and computes their search tokens, as it would in production.
	began := time.Now()
	counts, err := s.Rotate(ctx)
	if err != nil {
		tb.Fatalf("load appeals: rotate: %v", err)
	}
	fmt.Printf("sealed %d appeals and computed their search tokens in %v\n", counts[0].Rows, time.Since(began).Round(time.Second))
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		tb.Fatalf("load appeals: vacuum: %v", err)
	}
}

// BenchmarkConsoleQueries measures the console's list, filters, search and
// counts over a million appeals. It loads them first (about two minutes),
// then runs each kind of query with varying values and reports the 50th and
// 95th percentile of one ListAppeals call (page and counts together) in
// milliseconds. For steady percentiles run it with a fixed count:
//
//	go test ./store -run '^$' -bench ConsoleQueries -benchtime 400x -timeout 30m
func BenchmarkConsoleQueries(b *testing.B) {
	s := storetest.NewStore(b)
	ctx := context.Background()
	began := time.Now()
	loadAppeals(b, s, benchAppeals)
	// Printed, not logged: a benchmark with sub-benchmarks shows its log
	// only with -v.
	fmt.Printf("loaded %d appeals in %v\n", benchAppeals, time.Since(began).Round(time.Second))

	var staffIDs []int64
	rows, err := s.Pool().Query(ctx, `SELECT id FROM staff ORDER BY id`)
	must(b, "staff", err)
	for rows.Next() {
		var id int64
		must(b, "staff", rows.Scan(&id))
		staffIDs = append(staffIDs, id)
	}
	must(b, "staff", rows.Err())
	var refs []string
	rows, err = s.Pool().Query(ctx, `SELECT reference FROM appeals TABLESAMPLE SYSTEM (1) LIMIT 1000`)
	must(b, "references", err)
	for rows.Next() {
		var ref string
		must(b, "references", rows.Scan(&ref))
		refs = append(refs, ref)
	}
	must(b, "references", rows.Err())
	cursors := func(f migrantbot.AppealFilter, pages int) []string {
		var list []string
		for range pages {
			page, err := s.ListAppeals(ctx, f)
			must(b, "ListAppeals", err)
			if page.Next == "" {
				break
			}
			list = append(list, page.Next)
			f.After = page.Next
		}
		return list
	}
	deep := cursors(migrantbot.AppealFilter{Limit: 200}, 300)
	deepLabour := cursors(migrantbot.AppealFilter{Category: "labour", Limit: 200}, 100)
	statuses := []migrantbot.Status{migrantbot.StatusNew, migrantbot.StatusInReview, migrantbot.StatusReferred,
		migrantbot.StatusAnswered, migrantbot.StatusClosed, migrantbot.StatusRejected}
	now := time.Now()

	kinds := []struct {
		name   string
		filter func(i int) migrantbot.AppealFilter
	}{
		{"default list", func(int) migrantbot.AppealFilter { return migrantbot.AppealFilter{} }},
		{"status", func(i int) migrantbot.AppealFilter { return migrantbot.AppealFilter{Status: statuses[i%6]} }},
		{"category", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Category: benchCategories[i%len(benchCategories)]}
		}},
		{"citizenship", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Citizenship: benchCitizenships[i%len(benchCitizenships)]}
		}},
		{"country", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Country: benchCountries[i%len(benchCountries)]}
		}},
		{"language", func(i int) migrantbot.AppealFilter { return migrantbot.AppealFilter{Language: benchLanguages[i%3]} }},
		{"assignee", func(i int) migrantbot.AppealFilter {
			if i%4 == 0 {
				return migrantbot.AppealFilter{Assignee: -1}
			}
			return migrantbot.AppealFilter{Assignee: staffIDs[i%len(staffIDs)]}
		}},
		{"30-day range", func(i int) migrantbot.AppealFilter {
			from := now.AddDate(0, 0, -30-(i*7)%1060)
			return migrantbot.AppealFilter{From: from, To: from.AddDate(0, 0, 30)}
		}},
		{"combined 2-4 filters", func(i int) migrantbot.AppealFilter {
			f := migrantbot.AppealFilter{Category: benchCategories[i%8], Country: benchCountries[i%10]}
			if i%3 > 0 {
				f.Language = benchLanguages[i%3]
			}
			if i%3 > 1 {
				f.Citizenship = benchCitizenships[i%15]
			}
			return f
		}},
		{"status+assignee", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Status: statuses[i%6], Assignee: staffIDs[i%len(staffIDs)]}
		}},
		{"search surname", func(i int) migrantbot.AppealFilter {
			q := benchSurnames[i%len(benchSurnames)]
			if i%2 == 1 {
				q = strings.ToLower(q)
			}
			return migrantbot.AppealFilter{Query: q}
		}},
		{"search description word", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Query: benchWords[i%len(benchWords)]}
		}},
		{"search rare word", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Query: fmt.Sprintf("nowhere%d", i)}
		}},
		{"search full name", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Query: benchFirstNames[i%len(benchFirstNames)] + " " + benchSurnames[i%len(benchSurnames)]}
		}},
		{"search + category", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Query: benchSurnames[i%len(benchSurnames)], Category: benchCategories[i%8]}
		}},
		{"reference", func(i int) migrantbot.AppealFilter { return migrantbot.AppealFilter{Query: refs[i%len(refs)]} }},
		{"reference prefix", func(i int) migrantbot.AppealFilter {
			ref := refs[i%len(refs)]
			return migrantbot.AppealFilter{Query: ref[:len(ref)-2]}
		}},
		{"next page", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{After: deep[(i*37)%len(deep)]}
		}},
		{"next page, category", func(i int) migrantbot.AppealFilter {
			return migrantbot.AppealFilter{Category: "labour", After: deepLabour[(i*37)%len(deepLabour)]}
		}},
	}

	type result struct {
		name     string
		n        int
		p50, p95 time.Duration
	}
	var results []result
	measure := func(name string, run func(i int) error) {
		b.Run(name, func(b *testing.B) {
			var samples []time.Duration
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				if err := run(i); err != nil {
					b.Fatalf("%s: %v", name, err)
				}
				samples = append(samples, time.Since(start))
			}
			p50, p95 := percentile(samples, 50), percentile(samples, 95)
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
			results = append(results, result{name, len(samples), p50, p95})
		})
	}
	for _, k := range kinds {
		measure(k.name, func(i int) error {
			_, err := s.ListAppeals(ctx, k.filter(i))
			return err
		})
	}
	measure("appeal page (detail)", func(i int) error {
		_, err := s.AppealDetail(ctx, refs[i%len(refs)])
		return err
	})
	measure("statistics page", func(int) error {
		_, err := s.Stats(ctx)
		return err
	})

	var table strings.Builder
	fmt.Fprintf(&table, "Over %d appeals; each list query is one ListAppeals call (a page of 50 and the counts per status):\n", benchAppeals)
	fmt.Fprintf(&table, "%-26s %6s %9s %9s\n", "query", "runs", "p50 ms", "p95 ms")
	for _, r := range results {
		fmt.Fprintf(&table, "%-26s %6d %9.2f %9.2f\n", r.name, r.n,
			float64(r.p50.Microseconds())/1000, float64(r.p95.Microseconds())/1000)
	}
	fmt.Print(table.String())
}

// percentile returns the p-th percentile of samples (nearest rank).
func percentile(samples []time.Duration, p float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(rank, 0)]
}
