package store_test

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

func TestApplyNewSession(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	u := migrantbot.Update{ID: 1, ChatID: 100, UserID: 200}

	var seen migrantbot.Session
	h := apply(t, s, u, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		seen = sess
		sess.State = "language"
		sess.Lang = "az"
		return migrantbot.Turn{Session: sess, Notice: "ok"}, nil
	})
	want := migrantbot.Session{ChatID: 100, UserID: 200}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("session given to a new chat's step: got %+v, want %+v", seen, want)
	}
	if h.Notice != "ok" {
		t.Errorf("Notice: got %q, want %q", h.Notice, "ok")
	}
	if len(h.Outgoing) != 0 {
		t.Errorf("Outgoing: got %d messages, want none", len(h.Outgoing))
	}

	got, err := s.Session(ctx, 100)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	want = migrantbot.Session{ChatID: 100, UserID: 200, State: "language", Lang: "az", Version: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("saved session: got %+v, want %+v", got, want)
	}
	var lang string
	if err := s.Pool().QueryRow(ctx, `SELECT language FROM users WHERE user_id = 200 AND chat_id = 100`).Scan(&lang); err != nil {
		t.Fatalf("users row: %v", err)
	}
	if lang != "az" {
		t.Errorf("users.language: got %q, want %q", lang, "az")
	}
}

// TestApplySessionRoundTrip saves sessions through Apply and reads them back
// through the next Apply and through Session.
func TestApplySessionRoundTrip(t *testing.T) {
	consent := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		session migrantbot.Session
	}{
		{"new state", migrantbot.Session{State: "menu", Lang: "en"}},
		{"no language yet", migrantbot.Session{State: "language"}},
		{"draft and detour", migrantbot.Session{
			State: "appeal.edit.city", Lang: "ru", Return: "appeal.review", Batch: "album-1", Cursor: "labour/2",
			Draft: &migrantbot.Appeal{
				UserID: 7, ChatID: 7, Language: "ru", ConsentAt: consent, ConsentVersion: "2026-01",
				Surname: "Иванов", FirstName: "Иван", Citizenship: "UZ", Country: "AZ", City: "Baku",
				Category: "labour", When: migrantbot.WhenThisMonth, Description: "<b>not html</b> & \"quotes\"",
				Attachments: []migrantbot.Attachment{{FileID: "f1", FileUniqueID: "u1", Kind: "photo", Size: 10}},
			},
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.NewStore(t)
			chat := int64(1000 + i)
			apply(t, s, migrantbot.Update{ID: 1, ChatID: chat, UserID: 7}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
				next := tc.session
				next.UserID = sess.UserID
				return migrantbot.Turn{Session: next}, nil
			})
			want := tc.session
			want.ChatID, want.UserID, want.Version = chat, 7, 1

			got, err := s.Session(t.Context(), chat)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Session: got %+v, want %+v", got, want)
			}
			var seen migrantbot.Session
			apply(t, s, migrantbot.Update{ID: 2, ChatID: chat, UserID: 7}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
				seen = sess
				return migrantbot.Turn{Session: sess}, nil
			})
			if !reflect.DeepEqual(seen, want) {
				t.Errorf("session given to the next step: got %+v, want %+v", seen, want)
			}
		})
	}
}

var referencePattern = regexp.MustCompile(`^AP-\d{4}-\d{6}$`)

func TestApplySubmit(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	consent := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	draft := migrantbot.Appeal{
		UserID: 300, ChatID: 301, Language: "en", ConsentAt: consent, ConsentVersion: "2026-01",
		Surname: "Doe", FirstName: "Jane", Patronymic: "", Citizenship: "TJ", Country: "AZ", City: "Baku",
		Address: "1 Street", Category: "documents", Authority: "Migration service", When: "2026-02-03",
		OverOneYear: false, Description: "They kept my passport.", Phone: "+994500000000", PhoneShared: true,
		Email: "jane@example.org",
		Attachments: []migrantbot.Attachment{
			{FileID: "f-a", FileUniqueID: "u-a", Kind: "photo", Size: 1000, MediaGroupID: "g1"},
			{FileID: "f-b", FileUniqueID: "u-b", Kind: "document", Size: 2000, FileName: "scan.pdf", MimeType: "application/pdf", Caption: "page 1"},
			{FileID: "f-a2", FileUniqueID: "u-a", Kind: "photo", Size: 1000}, // the same file again
			{FileID: "f-c", FileUniqueID: "u-c", Kind: "photo", Size: 3000, MediaGroupID: "g1"},
		},
	}

	var ref string
	h := apply(t, s, migrantbot.Update{ID: 10, ChatID: 301, UserID: 300}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		if ref, err = rec.NextReference(); err != nil {
			return migrantbot.Turn{}, err
		}
		a := draft
		a.Reference = ref
		sess.State = "appeal.done"
		sess.Lang = "en"
		return migrantbot.Turn{
			Session:  sess,
			Submit:   &a,
			Messages: []migrantbot.Message{{Text: "Your appeal " + ref + " is received."}},
		}, nil
	})
	if !referencePattern.MatchString(ref) {
		t.Fatalf("reference %q does not match %s", ref, referencePattern)
	}
	if len(h.Outgoing) != 1 {
		t.Fatalf("Outgoing: got %d, want 1", len(h.Outgoing))
	}

	got, err := s.Appeal(ctx, ref)
	if err != nil {
		t.Fatalf("Appeal: %v", err)
	}
	if time.Since(got.SubmittedAt) > time.Minute || got.SubmittedAt.After(time.Now().Add(time.Minute)) {
		t.Errorf("SubmittedAt: got %v, want about now", got.SubmittedAt)
	}
	want := draft
	want.Reference = ref
	want.Status = migrantbot.StatusNew
	want.SubmittedAt = got.SubmittedAt
	want.Attachments = []migrantbot.Attachment{draft.Attachments[0], draft.Attachments[1], draft.Attachments[3]}
	got.ConsentAt = got.ConsentAt.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Appeal:\n got %+v\nwant %+v", got, want)
	}

	// A second appeal of the same person comes first in the lists.
	var inStep []migrantbot.AppealSummary
	var ref2 string
	apply(t, s, migrantbot.Update{ID: 11, ChatID: 301, UserID: 300}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		if ref2, err = rec.NextReference(); err != nil {
			return migrantbot.Turn{}, err
		}
		a := draft
		a.Reference, a.Category, a.Attachments = ref2, "labour", nil
		return migrantbot.Turn{Session: sess, Submit: &a}, nil
	})
	apply(t, s, migrantbot.Update{ID: 12, ChatID: 301, UserID: 300}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		inStep, err = rec.AppealsOf(300)
		return migrantbot.Turn{Session: sess}, err
	})
	listed, err := s.AppealsOf(ctx, 300)
	if err != nil {
		t.Fatalf("AppealsOf: %v", err)
	}
	for name, list := range map[string][]migrantbot.AppealSummary{"Records.AppealsOf": inStep, "Store.AppealsOf": listed} {
		if len(list) != 2 {
			t.Errorf("%s: got %d appeals, want 2", name, len(list))
			continue
		}
		if list[0].Reference != ref2 || list[1].Reference != ref {
			t.Errorf("%s order: got %s, %s; want %s, %s", name, list[0].Reference, list[1].Reference, ref2, ref)
		}
		if list[0].Category != "labour" || list[0].Status != migrantbot.StatusNew {
			t.Errorf("%s[0]: got %+v, want category labour, status new", name, list[0])
		}
	}
}

func TestApplyDuplicateUpdate(t *testing.T) {
	s := storetest.NewStore(t)
	u := migrantbot.Update{ID: 42, ChatID: 500, UserID: 501}
	calls := 0
	step := func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		calls++
		ref, err := rec.NextReference()
		if err != nil {
			return migrantbot.Turn{}, err
		}
		sess.State = "appeal.done"
		return migrantbot.Turn{Session: sess, Submit: &migrantbot.Appeal{Reference: ref}, Messages: []migrantbot.Message{{Text: "received"}}}, nil
	}
	apply(t, s, u, step)

	h, err := s.Apply(t.Context(), u, step)
	if !errors.Is(err, migrantbot.ErrDuplicate) || migrantbot.ErrorCode(err) != migrantbot.EDUPLICATE {
		t.Fatalf("second Apply: got %v (code %s), want ErrDuplicate", err, migrantbot.ErrorCode(err))
	}
	if len(h.Outgoing) != 0 {
		t.Errorf("second Apply returned %d messages, want none", len(h.Outgoing))
	}
	if calls != 1 {
		t.Errorf("step ran %d times, want 1", calls)
	}
	assertCount(t, s, `SELECT count(*) FROM appeals`, 1)
	assertCount(t, s, `SELECT count(*) FROM outbox`, 1)
	assertCount(t, s, `SELECT version FROM sessions WHERE chat_id = 500`, 1)

	// Updates without an id (terminal chat) are never taken for duplicates.
	for range 2 {
		apply(t, s, migrantbot.Update{ChatID: 500, UserID: 501}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			return migrantbot.Turn{Session: sess}, nil
		})
	}
	assertCount(t, s, `SELECT version FROM sessions WHERE chat_id = 500`, 3)
}

func TestApplyFailureSavesNothing(t *testing.T) {
	errStep := errors.New("step failed")
	tests := []struct {
		name     string
		step     migrantbot.StepFunc
		wantErr  error
		wantCode string
	}{
		{
			name: "step error",
			step: func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
				if _, err := rec.NextReference(); err != nil {
					return migrantbot.Turn{}, err
				}
				return migrantbot.Turn{}, errStep
			},
			wantErr:  errStep,
			wantCode: migrantbot.EINTERNAL,
		},
		{
			name: "reference taken",
			step: func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
				sess.State = "appeal.done"
				return migrantbot.Turn{Session: sess, Submit: &migrantbot.Appeal{Reference: "AP-2000-000001"},
					Messages: []migrantbot.Message{{Text: "received"}}}, nil
			},
			wantCode: migrantbot.ECONFLICT,
		},
		{
			name: "no reference",
			step: func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
				return migrantbot.Turn{Session: sess, Submit: &migrantbot.Appeal{}}, nil
			},
			wantCode: migrantbot.EINVALID,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.NewStore(t)
			ctx := t.Context()
			const chat = 600
			// An earlier appeal holds AP-2000-000001 and the session is at menu.
			apply(t, s, migrantbot.Update{ID: 1, ChatID: chat, UserID: 601}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
				sess.State, sess.Lang = "menu", "en"
				return migrantbot.Turn{Session: sess, Submit: &migrantbot.Appeal{Reference: "AP-2000-000001"}}, nil
			})
			before, err := s.Session(ctx, chat)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}

			u := migrantbot.Update{ID: 2, ChatID: chat, UserID: 601}
			_, err = s.Apply(ctx, u, tc.step)
			if err == nil {
				t.Fatal("Apply succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Apply: got %v, want it to wrap %v", err, tc.wantErr)
			}
			if got := migrantbot.ErrorCode(err); got != tc.wantCode {
				t.Errorf("ErrorCode: got %q, want %q (%v)", got, tc.wantCode, err)
			}
			after, err := s.Session(ctx, chat)
			if err != nil {
				t.Fatalf("Session: %v", err)
			}
			if !reflect.DeepEqual(after, before) {
				t.Errorf("session changed by a failed Apply: got %+v, want %+v", after, before)
			}
			assertCount(t, s, `SELECT count(*) FROM appeals`, 1)
			assertCount(t, s, `SELECT count(*) FROM outbox`, 0)
			assertCount(t, s, `SELECT count(*) FROM processed_updates WHERE update_id = 2`, 0)

			// The update was not recorded, so it can be retried.
			apply(t, s, u, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
				sess.State = "retried"
				return migrantbot.Turn{Session: sess}, nil
			})
			if got, _ := s.Session(ctx, chat); got.State != "retried" || got.Version != before.Version+1 {
				t.Errorf("after retry: got state %q version %d, want %q version %d", got.State, got.Version, "retried", before.Version+1)
			}
		})
	}
}

// TestApplySerializesOneChat runs two goroutines applying 50 updates each to
// the same chat; every step increments a counter in the session, which would
// lose increments if two steps of the chat ever ran at once.
func TestApplySerializesOneChat(t *testing.T) {
	s := storetest.NewStore(t)
	const (
		chat    = 700
		workers = 2
		perEach = 50
	)
	var wg sync.WaitGroup
	errs := make(chan error, workers*perEach)
	for w := range workers {
		wg.Go(func() {
			for i := range perEach {
				u := migrantbot.Update{ID: int64(w*perEach + i + 1), ChatID: chat, UserID: 701}
				_, err := s.Apply(t.Context(), u, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
					n, _ := strconv.Atoi(sess.Cursor)
					sess.Cursor = strconv.Itoa(n + 1)
					return migrantbot.Turn{Session: sess}, nil
				})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Apply: %v", err)
	}
	got, err := s.Session(t.Context(), chat)
	if err != nil {
		t.Fatalf("Session: %v", err)
	}
	if want := strconv.Itoa(workers * perEach); got.Cursor != want || got.Version != workers*perEach {
		t.Errorf("counter %s, version %d; want %s, %d", got.Cursor, got.Version, want, workers*perEach)
	}
}

// TestApplyChatsInParallel holds one chat's step open and checks that
// another chat is served meanwhile, while the same chat waits.
func TestApplyChatsInParallel(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	entered := make(chan struct{})
	release := make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		_, err := s.Apply(ctx, migrantbot.Update{ID: 1, ChatID: 800}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			close(entered)
			<-release
			sess.State = "first"
			return migrantbot.Turn{Session: sess}, nil
		})
		firstDone <- err
	}()
	<-entered

	// Another chat goes through while chat 800 is locked.
	other, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.Apply(other, migrantbot.Update{ID: 2, ChatID: 801}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		return migrantbot.Turn{Session: sess}, nil
	}); err != nil {
		t.Fatalf("Apply on another chat while the first is locked: %v", err)
	}

	// The same chat waits for the first step to commit, then sees its result.
	secondState := make(chan string, 1)
	secondDone := make(chan error, 1)
	go func() {
		_, err := s.Apply(ctx, migrantbot.Update{ID: 3, ChatID: 800}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			secondState <- sess.State
			return migrantbot.Turn{Session: sess}, nil
		})
		secondDone <- err
	}()
	defer func() {
		if err := <-secondDone; err != nil {
			t.Errorf("second Apply on the locked chat: %v", err)
		}
	}()
	select {
	case st := <-secondState:
		t.Fatalf("second step of chat 800 ran while the first held the lock (saw state %q)", st)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	select {
	case st := <-secondState:
		if st != "first" {
			t.Errorf("second step saw state %q, want %q", st, "first")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second step of chat 800 did not run after the first committed")
	}
}

// apply runs s.Apply and fails the test on error.
func apply(tb testing.TB, s *store.Store, u migrantbot.Update, step migrantbot.StepFunc) migrantbot.Handled {
	tb.Helper()
	h, err := s.Apply(context.Background(), u, step)
	if err != nil {
		tb.Fatalf("Apply update %d of chat %d: %v", u.ID, u.ChatID, err)
	}
	return h
}

// assertCount checks a query returning one integer.
func assertCount(tb testing.TB, s *store.Store, sql string, want int64) {
	tb.Helper()
	var got int64
	if err := s.Pool().QueryRow(context.Background(), sql).Scan(&got); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	if got != want {
		tb.Errorf("%s: got %d, want %d", sql, got, want)
	}
}

// A session the key cannot open (damaged at rest) would fail every update
// of its chat for good; the chat starts afresh instead.
func TestApplyDamagedSessionStartsAfresh(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	apply(t, s, migrantbot.Update{ID: 1, ChatID: 300, UserID: 300}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		sess.State, sess.Lang = "menu", "en"
		return migrantbot.Turn{Session: sess}, nil
	})
	// Flip the sealed document's last characters: GCM refuses it.
	if _, err := s.Pool().Exec(ctx, `UPDATE sessions SET data = to_jsonb(left(data #>> '{}', -4) || 'AAAA') WHERE chat_id = 300`); err != nil {
		t.Fatal(err)
	}
	var seen migrantbot.Session
	apply(t, s, migrantbot.Update{ID: 2, ChatID: 300, UserID: 300}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		seen = sess
		sess.State = "language"
		return migrantbot.Turn{Session: sess}, nil
	})
	if seen.State != "" || seen.ChatID != 300 || seen.UserID != 300 || seen.Version != 1 {
		t.Errorf("step got %+v, want a fresh session of chat 300 at version 1", seen)
	}
	if got, err := s.Session(ctx, 300); err != nil || got.State != "language" || got.Version != 2 {
		t.Errorf("saved session %+v, %v: want state language, version 2", got, err)
	}
}
