package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"migrantbot"
	"migrantbot/store/storetest"
)

func TestAuditLog(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	entries := []migrantbot.AuditEntry{
		{Actor: "anna@ombudsman.example", Action: "appeal.view", Target: "AP-2026-000001", IP: "10.0.0.1"},
		{Actor: "boss@ombudsman.example", Action: "export", Detail: "status=new", IP: "10.0.0.2"},
		{Actor: "anna@ombudsman.example", Action: "appeal.view", Target: "AP-2026-000002", IP: "10.0.0.1"},
		{Actor: "system", Action: "staff.add", Target: "omar@ombudsman.example"},
	}
	for _, e := range entries {
		must(t, "Audit", s.Audit(ctx, e))
	}
	wantCode(t, "Audit without an actor", s.Audit(ctx, migrantbot.AuditEntry{Action: "x"}), migrantbot.EINVALID)
	wantCode(t, "Audit without an action", s.Audit(ctx, migrantbot.AuditEntry{Actor: "x"}), migrantbot.EINVALID)

	tests := []struct {
		name                  string
		actor, action, target string
		limit                 int
		want                  []int // indexes into entries, newest first
	}{
		{"all", "", "", "", 0, []int{3, 2, 1, 0}},
		{"limited", "", "", "", 2, []int{3, 2}},
		{"by actor", "anna@ombudsman.example", "", "", 0, []int{2, 0}},
		{"by action", "", "export", "", 0, []int{1}},
		{"by target", "", "", "AP-2026-000001", 0, []int{0}},
		{"all three", "anna@ombudsman.example", "appeal.view", "AP-2026-000002", 0, []int{2}},
		{"none", "nobody", "", "", 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.actor, tc.action, tc.target, tc.limit)
			must(t, "ListAudit", err)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d entries, want %d: %+v", len(got), len(tc.want), got)
			}
			for i, idx := range tc.want {
				w, g := entries[idx], got[i]
				if g.Actor != w.Actor || g.Action != w.Action || g.Target != w.Target || g.Detail != w.Detail || g.IP != w.IP ||
					g.ID == 0 || g.At.IsZero() {
					t.Errorf("entry %d: got %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestAuditLogAppendOnly checks that the database itself refuses to change
// or remove audit entries, whatever the application tries.
func TestAuditLogAppendOnly(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	must(t, "Audit", s.Audit(ctx, migrantbot.AuditEntry{Actor: "anna@ombudsman.example", Action: "appeal.view", Target: "AP-2026-000001"}))
	for _, sql := range []string{
		`UPDATE audit_log SET actor = 'someone@else.example'`,
		`DELETE FROM audit_log`,
		`TRUNCATE audit_log`,
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := s.Pool().Exec(ctx, sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Errorf("got %v, want the trigger's insufficient_privilege error", err)
			}
		})
	}
	if n := count(t, s, `SELECT count(*) FROM audit_log WHERE actor = 'anna@ombudsman.example'`); n != 1 {
		t.Errorf("audit entries left: got %d, want 1", n)
	}
}

// TestFindAudit filters by date range and pages by the cursor. Entries are
// written at chosen times with plain INSERTs, which the append-only log
// allows.
func TestFindAudit(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	days := []string{"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05"}
	for _, d := range days {
		exec(t, s, `INSERT INTO audit_log (at, actor, action, target) VALUES ($1::date + time '12:00', 'anna@ombudsman.example', 'appeal.view', $1)`, d)
	}
	exec(t, s, `INSERT INTO audit_log (at, actor, action, target) VALUES ('2026-03-03 13:00', 'boss@ombudsman.example', 'export', '')`)
	day := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name    string
		f       migrantbot.AuditFilter
		targets []string
	}{
		{"range", migrantbot.AuditFilter{Action: "appeal.view", From: day("2026-03-02"), To: day("2026-03-04")}, []string{"2026-03-03", "2026-03-02"}},
		{"from only", migrantbot.AuditFilter{Actor: "anna@ombudsman.example", From: day("2026-03-04")}, []string{"2026-03-05", "2026-03-04"}},
		{"to only", migrantbot.AuditFilter{Action: "appeal.view", To: day("2026-03-02")}, []string{"2026-03-01"}},
		{"range and another actor", migrantbot.AuditFilter{Actor: "boss@ombudsman.example", From: day("2026-03-03"), To: day("2026-03-04")}, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.FindAudit(ctx, tc.f)
			must(t, "FindAudit", err)
			var targets []string
			for _, e := range got {
				targets = append(targets, e.Target)
			}
			if !slices.Equal(targets, tc.targets) {
				t.Errorf("targets: got %q, want %q", targets, tc.targets)
			}
		})
	}

	// Pages of two, by the cursor, cover every entry once, newest first.
	var all []int64
	f := migrantbot.AuditFilter{Limit: 2}
	for range 10 {
		page, err := s.FindAudit(ctx, f)
		must(t, "FindAudit page", err)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			all = append(all, e.ID)
		}
		f.Before = page[len(page)-1].ID
	}
	if len(all) != len(days)+1 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("paged IDs: got %v, want %d IDs, newest first", all, len(days)+1)
	}
}
