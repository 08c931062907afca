package store_test

import (
	"errors"
	"testing"

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
