package store_test

import (
	"testing"

	"migrantbot"
	"migrantbot/store/storetest"
)

// An appeal whose person's chat is gone (anonymized by retention) refuses
// replies, and records status changes without a message to nobody.
func TestAnonymizedAppealIsNotWrittenTo(t *testing.T) {
	st := storetest.NewStore(t)
	ctx := t.Context()
	if _, err := st.Pool().Exec(ctx, `INSERT INTO appeals (reference, user_id, chat_id, status, category)
		VALUES ('AP-2026-900001', 0, 0, 'in_review', 'labour')`); err != nil {
		t.Fatal(err)
	}
	staff, err := st.CreateStaff(ctx, "r@example.org", migrantbot.RoleReviewer, "x", false)
	if err != nil {
		t.Fatal(err)
	}
	msg := migrantbot.Message{Text: "hello"}
	err = st.Reply(ctx, staff, "AP-2026-900001", "hello", msg)
	if migrantbot.ErrorCode(err) != migrantbot.EINVALID {
		t.Fatalf("reply to an anonymized appeal: %v, want EINVALID", err)
	}
	if err := st.ChangeStatus(ctx, staff, "AP-2026-900001", migrantbot.StatusAnswered, "", &msg); err != nil {
		t.Fatalf("status change: %v", err)
	}
	var outbox, entries int
	if err := st.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM thread_entries)`).Scan(&outbox, &entries); err != nil {
		t.Fatal(err)
	}
	if outbox != 0 || entries != 1 {
		t.Errorf("outbox rows %d, thread entries %d; want 0 and 1 (the status change)", outbox, entries)
	}
}
