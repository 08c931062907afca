package store_test

import (
	"context"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
)

// newStaff creates an enabled account and fails the test on error.
func newStaff(tb testing.TB, s *store.Store, email string, role migrantbot.Role) migrantbot.Staff {
	tb.Helper()
	st, err := s.CreateStaff(context.Background(), email, role, "hash-of-"+email, false)
	if err != nil {
		tb.Fatalf("CreateStaff %s: %v", email, err)
	}
	return st
}

// submit files an appeal of a.UserID through Apply, as the dialogs do, and
// returns its reference. Chat and user are the same, as in a private chat.
func submit(tb testing.TB, s *store.Store, a migrantbot.Appeal) string {
	tb.Helper()
	if a.UserID == 0 {
		a.UserID = 1
	}
	a.ChatID = a.UserID
	if a.Language == "" {
		a.Language = "en"
	}
	var ref string
	apply(tb, s, migrantbot.Update{ChatID: a.UserID, UserID: a.UserID}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		if ref, err = rec.NextReference(); err != nil {
			return migrantbot.Turn{}, err
		}
		a.Reference = ref
		sess.State, sess.Lang = "appeal.done", a.Language
		return migrantbot.Turn{Session: sess, Submit: &a, Messages: []migrantbot.Message{{Text: "received " + ref}}}, nil
	})
	return ref
}

// exec runs SQL that sets up a test, failing it on error.
func exec(tb testing.TB, s *store.Store, sql string, args ...any) {
	tb.Helper()
	if _, err := s.Pool().Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// setSubmitted moves an appeal's submission time.
func setSubmitted(tb testing.TB, s *store.Store, ref string, at time.Time) {
	tb.Helper()
	exec(tb, s, `UPDATE appeals SET submitted_at = $2 WHERE reference = $1`, ref, at)
}

// wantCode checks the error code of err.
func wantCode(tb testing.TB, what string, err error, code string) {
	tb.Helper()
	if got := migrantbot.ErrorCode(err); got != code {
		tb.Errorf("%s: got %v (code %q), want code %q", what, err, got, code)
	}
}

// must fails the test on err.
func must(tb testing.TB, what string, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// count runs a query returning one integer.
func count(tb testing.TB, s *store.Store, sql string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := s.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}
