package store_test

import (
	"context"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

func TestOutbox(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	msgs := []migrantbot.Message{
		{Text: "one", Buttons: [][]migrantbot.Button{{{Text: "A", Data: "a"}, {Text: "B", Data: "b"}}}},
		{Text: "two", ContactButton: "Share phone"},
		{Text: "three", RemoveKeyboard: true, EditMessageID: 55},
	}
	h := apply(t, s, migrantbot.Update{ID: 1, ChatID: 900, UserID: 901}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		return migrantbot.Turn{Session: sess, Messages: msgs}, nil
	})
	if len(h.Outgoing) != len(msgs) {
		t.Fatalf("Outgoing: got %d, want %d", len(h.Outgoing), len(msgs))
	}
	for i, o := range h.Outgoing {
		if o.ChatID != 900 || !reflect.DeepEqual(o.Message, msgs[i]) {
			t.Errorf("Outgoing[%d]: got %+v, want chat 900 and %+v", i, o, msgs[i])
		}
		if i > 0 && o.ID <= h.Outgoing[i-1].ID {
			t.Errorf("Outgoing ids not increasing: %d after %d", o.ID, h.Outgoing[i-1].ID)
		}
	}
	ids := []int64{h.Outgoing[0].ID, h.Outgoing[1].ID, h.Outgoing[2].ID}

	// New messages are left to the caller's first delivery for a while.
	if due := mustDue(t, s, 10); len(due) != 0 {
		t.Errorf("Due right after Apply: got %d messages, want 0", len(due))
	}
	makeDue(t, s)
	due := mustDue(t, s, 10)
	if !reflect.DeepEqual(due, h.Outgoing) {
		t.Errorf("Due: got %+v, want %+v", due, h.Outgoing)
	}
	if due := mustDue(t, s, 10); len(due) != 0 {
		t.Errorf("Due again: got %d claimed messages back, want 0", len(due))
	}
	assertCount(t, s, `SELECT sum(attempts) FROM outbox`, 3)

	if err := s.MarkSent(ctx, ids[0]); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	if err := s.MarkSent(ctx, ids[0]); err != nil {
		t.Errorf("MarkSent twice: %v", err)
	}
	if err := s.Retry(ctx, ids[1], 0, "Too Many Requests: retry after 0"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	if err := s.Retry(ctx, ids[0], 0, "late report"); err != nil {
		t.Errorf("Retry of a sent message: %v", err)
	}
	due = mustDue(t, s, 10)
	if len(due) != 1 || due[0].ID != ids[1] {
		t.Errorf("Due after MarkSent/Retry: got %+v, want only message %d", due, ids[1])
	}
	var lastError string
	if err := s.Pool().QueryRow(ctx, `SELECT last_error FROM outbox WHERE id = $1`, ids[1]).Scan(&lastError); err != nil {
		t.Fatal(err)
	}
	if lastError != "Too Many Requests: retry after 0" {
		t.Errorf("last_error: got %q", lastError)
	}

	// A retry in the future is not due yet.
	if err := s.Retry(ctx, ids[2], time.Hour, "later"); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	assertCount(t, s, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND next_attempt_at > now() + interval '59 minutes'`, 1)
	assertCount(t, s, `SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL`, 1)

	for name, err := range map[string]error{
		"MarkSent": s.MarkSent(ctx, 999999),
		"Retry":    s.Retry(ctx, 999999, time.Second, "x"),
	} {
		if migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
			t.Errorf("%s of a missing message: got %v, want ENOTFOUND", name, err)
		}
	}
	if _, err := s.Due(ctx, 0); migrantbot.ErrorCode(err) != migrantbot.EINVALID {
		t.Errorf("Due(0): got %v, want EINVALID", err)
	}
}

// TestDueConcurrently claims from several goroutines at once (as several
// instances would) and checks that no message is handed out twice.
func TestDueConcurrently(t *testing.T) {
	s := storetest.NewStore(t)
	const total = 200
	for chat := range int64(10) {
		msgs := make([]migrantbot.Message, total/10)
		for i := range msgs {
			msgs[i] = migrantbot.Message{Text: "m"}
		}
		apply(t, s, migrantbot.Update{ID: chat + 1, ChatID: chat + 1}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			return migrantbot.Turn{Session: sess, Messages: msgs}, nil
		})
	}
	makeDue(t, s)

	var (
		mu      sync.Mutex
		claimed []int64
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for {
				due, err := s.Due(context.Background(), 7)
				if err != nil {
					t.Errorf("Due: %v", err)
					return
				}
				if len(due) == 0 {
					return
				}
				mu.Lock()
				for _, o := range due {
					claimed = append(claimed, o.ID)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(claimed)
	if len(claimed) != total || len(slices.Compact(slices.Clone(claimed))) != total {
		t.Errorf("claimed %d messages, %d distinct; want %d distinct", len(claimed), len(slices.Compact(claimed)), total)
	}
}

func mustDue(tb testing.TB, s *store.Store, limit int) []migrantbot.Outgoing {
	tb.Helper()
	due, err := s.Due(context.Background(), limit)
	if err != nil {
		tb.Fatalf("Due: %v", err)
	}
	return due
}

// makeDue moves every unsent message's time to be tried into the past, as if
// the first delivery had never reported back.
func makeDue(tb testing.TB, s *store.Store) {
	tb.Helper()
	if _, err := s.Pool().Exec(context.Background(), `UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE sent_at IS NULL`); err != nil {
		tb.Fatalf("make messages due: %v", err)
	}
}
