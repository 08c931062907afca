package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// TestRetentionCommand runs `migrantbot retention --dry-run` on a database
// with an abandoned draft, an appeal closed years ago and an old update id:
// it prints the counts and the reference and changes nothing; `migrantbot
// retention` then removes exactly that, and a dry run after it finds
// nothing.
func TestRetentionCommand(t *testing.T) {
	url := storetest.NewDatabase(t)
	st := storetest.OpenStore(t, url, storetest.Keys(t))
	ctx := t.Context()
	policy := store.DefaultRetention("menu")
	const mark = "Retentionmarkov"

	boss, err := st.CreateStaff(ctx, "boss@ombudsman.example", migrantbot.RoleAdmin, "hash", false)
	if err != nil {
		t.Fatal(err)
	}
	// An appeal, closed (with a message to the person) past the period.
	var ref string
	_, err = st.Apply(ctx, migrantbot.Update{ID: 700, ChatID: 70, UserID: 70}, func(s migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		if ref, err = rec.NextReference(); err != nil {
			return migrantbot.Turn{}, err
		}
		s.Lang, s.State = "en", "menu"
		return migrantbot.Turn{Session: s, Submit: &migrantbot.Appeal{Reference: ref, Surname: mark, Category: "labour",
			Citizenship: "UZ", Country: "AZ", Description: mark + " was not paid"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ChangeStatus(ctx, boss, ref, migrantbot.StatusClosed, "", &migrantbot.Message{Text: "closed"}); err != nil {
		t.Fatal(err)
	}
	// An abandoned draft, whose update is older than the week update ids are kept.
	_, err = st.Apply(ctx, migrantbot.Update{ID: 701, ChatID: 71, UserID: 71}, func(s migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		s.Lang, s.State, s.Draft = "en", "surname", &migrantbot.Appeal{Surname: mark}
		return migrantbot.Turn{Session: s}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql string
		age time.Duration
	}{
		{`UPDATE appeals SET closed_at = now() - $1::bigint * interval '1 microsecond'`, policy.ClosedAge + 24*time.Hour},
		{`UPDATE sessions SET updated_at = now() - $1::bigint * interval '1 microsecond' WHERE chat_id = 71`, policy.DraftAge + 24*time.Hour},
		{`UPDATE processed_updates SET processed_at = now() - $1::bigint * interval '1 microsecond' WHERE update_id = 701`, policy.UpdatesAge + 24*time.Hour},
	} {
		if _, err := st.Pool().Exec(ctx, q.sql, q.age.Microseconds()); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}

	env := map[string]string{"DATABASE_URL": url, "DATA_KEY": storetest.DataKey(t)}
	cli := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("migrantbot %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	counts := func(drafts, appeals, updates, deleted, emptied int) []string {
		return []string{
			fmt.Sprintf("abandoned drafts:            %d\n", drafts),
			fmt.Sprintf("appeals anonymized:          %d\n", appeals),
			fmt.Sprintf("processed update ids:        %d\n", updates),
			fmt.Sprintf("delivered messages deleted:  %d\n", deleted),
			fmt.Sprintf("delivered messages emptied:  %d\n", emptied),
		}
	}
	// The status message was never delivered; the thread links it, so it is
	// emptied, not deleted.
	want := counts(1, 1, 1, 0, 1)

	dry := cli("retention", "--dry-run")
	for _, w := range append(want, "dry run", "appeals: "+ref+"\n") {
		if !strings.Contains(dry, w) {
			t.Errorf("dry run output lacks %q:\n%s", w, dry)
		}
	}
	if strings.Contains(dry, mark) {
		t.Errorf("dry run output shows personal data:\n%s", dry)
	}
	if a, err := st.Appeal(ctx, ref); err != nil || a.Surname != mark {
		t.Errorf("after the dry run the appeal has surname %q (%v), want it kept", a.Surname, err)
	}
	if s, err := st.Session(ctx, 71); err != nil || s.Draft == nil {
		t.Errorf("after the dry run the draft is %v (%v), want it kept", s.Draft, err)
	}

	done := cli("retention")
	for _, w := range append(want, "retention done", "appeals: "+ref+"\n") {
		if !strings.Contains(done, w) {
			t.Errorf("retention output lacks %q:\n%s", w, done)
		}
	}
	if a, err := st.Appeal(ctx, ref); err != nil || a.Surname != "" || a.Category != "labour" {
		t.Errorf("after retention the appeal has surname %q, category %q (%v); want it anonymized", a.Surname, a.Category, err)
	}

	again := cli("retention", "--dry-run")
	for _, w := range counts(0, 0, 0, 0, 0) {
		if !strings.Contains(again, w) {
			t.Errorf("a dry run after retention lacks %q:\n%s", w, again)
		}
	}
	if strings.Contains(again, "appeals: ") {
		t.Errorf("a dry run after retention lists appeals:\n%s", again)
	}
}

func TestRetentionConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"draft days not a number", []string{"retention"}, map[string]string{"RETENTION_DRAFT_DAYS": "month"}, "RETENTION_DRAFT_DAYS"},
		{"closed days zero", []string{"retention"}, map[string]string{"RETENTION_CLOSED_DAYS": "0"}, "RETENTION_CLOSED_DAYS"},
		{"unknown flag", []string{"retention", "--now"}, map[string]string{"DATABASE_URL": "postgres://x@/y"}, "usage: migrantbot retention"},
		{"no database", []string{"retention", "--dry-run"}, nil, "DATABASE_URL is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	p, err := loadRetention(func(k string) string {
		return map[string]string{"RETENTION_DRAFT_DAYS": "10", "RETENTION_CLOSED_DAYS": "365"}[k]
	})
	if err != nil || p.DraftAge != 10*24*time.Hour || p.ClosedAge != 365*24*time.Hour {
		t.Errorf("loadRetention: %+v, %v; want 10 and 365 days", p, err)
	}
}
