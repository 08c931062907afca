package store_test

import (
	"context"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// outboxStats calls OutboxStats and fails the test on error.
func outboxStats(tb testing.TB, s *store.Store) (int, time.Duration) {
	tb.Helper()
	n, oldest, err := s.OutboxStats(context.Background())
	if err != nil {
		tb.Fatalf("OutboxStats: %v", err)
	}
	return n, oldest
}

// appealsSubmitted calls AppealsSubmitted and fails the test on error.
func appealsSubmitted(tb testing.TB, s *store.Store) int64 {
	tb.Helper()
	n, err := s.AppealsSubmitted(context.Background())
	if err != nil {
		tb.Fatalf("AppealsSubmitted: %v", err)
	}
	return n
}

func TestOutboxStats(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	if n, oldest := outboxStats(t, s); n != 0 || oldest != 0 {
		t.Errorf("empty outbox: got backlog %d, oldest %v; want 0, 0", n, oldest)
	}

	h := apply(t, s, migrantbot.Update{ID: 1, ChatID: 500, UserID: 500}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		return migrantbot.Turn{Session: sess, Messages: []migrantbot.Message{{Text: "one"}, {Text: "two"}, {Text: "three"}, {Text: "four"}}}, nil
	})
	ids := make([]int64, len(h.Outgoing))
	for i, o := range h.Outgoing {
		ids[i] = o.ID
	}
	const age = 90 * time.Second
	exec(t, s, `UPDATE outbox SET created_at = now() - $2::bigint * interval '1 microsecond' WHERE id = $1`, ids[0], age.Microseconds())
	exec(t, s, `UPDATE outbox SET created_at = now() - interval '30 seconds' WHERE id = $1`, ids[1])

	n, oldest := outboxStats(t, s)
	if n != len(ids) {
		t.Errorf("backlog: got %d, want %d", n, len(ids))
	}
	if oldest < age || oldest > age+time.Minute {
		t.Errorf("oldest: got %v, want about %v", oldest, age)
	}

	// A sent message and a blocked one wait no more; the age follows the
	// oldest message still waiting.
	must(t, "MarkSent", s.MarkSent(ctx, ids[0]))
	must(t, "Blocked", s.Blocked(ctx, ids[2], "Forbidden: bot was blocked by the user"))
	n, oldest = outboxStats(t, s)
	if n != len(ids)-2 {
		t.Errorf("backlog after one sent and one blocked: got %d, want %d", n, len(ids)-2)
	}
	if oldest < 30*time.Second || oldest >= age {
		t.Errorf("oldest after the oldest was sent: got %v, want between 30s and %v", oldest, age)
	}

	// A message waiting for a retry is still in the backlog.
	must(t, "Retry", s.Retry(ctx, ids[1], time.Hour, "telegram error 502"))
	if n, _ := outboxStats(t, s); n != len(ids)-2 {
		t.Errorf("backlog with a retry pending: got %d, want %d", n, len(ids)-2)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.OutboxStats(cancelled); err == nil {
		t.Errorf("OutboxStats with a cancelled context: got no error")
	}
}

func TestAppealsSubmitted(t *testing.T) {
	s := storetest.NewStore(t)
	if n := appealsSubmitted(t, s); n != 0 {
		t.Errorf("no appeals: got %d, want 0", n)
	}
	refs := []string{
		submit(t, s, migrantbot.Appeal{UserID: 11, Category: "detention", Citizenship: "UZ", Country: "AZ"}),
		submit(t, s, migrantbot.Appeal{UserID: 12, Category: "labour", Citizenship: "TJ", Country: "RU", Language: "ru"}),
		submit(t, s, migrantbot.Appeal{UserID: 11, Category: "labour", Citizenship: "UZ", Country: "AZ"}),
	}
	want := int64(len(refs))
	if n := appealsSubmitted(t, s); n != want {
		t.Errorf("after %d submissions: got %d, want %d", len(refs), n, want)
	}
	// Staff working an appeal moves it between the counts' rows; the total
	// stays what was submitted.
	exec(t, s, `UPDATE appeals SET status = 'closed' WHERE reference = $1`, refs[0])
	exec(t, s, `UPDATE appeals SET status = 'in_review', category = 'other' WHERE reference = $1`, refs[1])
	if n := appealsSubmitted(t, s); n != want {
		t.Errorf("after status changes: got %d, want %d", n, want)
	}
	if n := count(t, s, `SELECT count(*) FROM appeals`); n != want {
		t.Errorf("appeals rows: got %d, want %d", n, want)
	}
}
