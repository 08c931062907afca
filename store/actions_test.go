package store_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// rowCounts are the rows an action may write.
type rowCounts struct{ thread, audit, outbox int64 }

func rowsNow(tb testing.TB, s *store.Store) rowCounts {
	tb.Helper()
	return rowCounts{
		thread: count(tb, s, `SELECT count(*) FROM thread_entries`),
		audit:  count(tb, s, `SELECT count(*) FROM audit_log`),
		outbox: count(tb, s, `SELECT count(*) FROM outbox`),
	}
}

// TestActions runs each staff action and checks that it wrote its change,
// its thread entry, its audit entry and, with a message, its outbox row
// linked to the entry, or, when refused, nothing at all.
func TestActions(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	gone := newStaff(t, s, "gone@ombudsman.example", migrantbot.RoleReviewer)
	must(t, "SetStaffDisabled", s.SetStaffDisabled(ctx, gone.ID, true))
	ref := submit(t, s, migrantbot.Appeal{UserID: 42, Category: "labour"})
	day := time.Date(2026, 3, 10, 23, 30, 0, 0, time.FixedZone("Baku", 4*3600))
	msg := &migrantbot.Message{Text: "Your appeal " + ref + " is in review."}

	tests := []struct {
		name       string
		act        func() error
		code       string // "" when allowed
		kind       string
		text       string
		status     migrantbot.Status
		author     string
		message    bool
		action     string
		detail     string
		afterCheck string // a query that must count 1 after the action
	}{
		{
			name: "assign to a reviewer", act: func() error { return s.Assign(ctx, boss, ref, anna.ID) },
			kind: migrantbot.EntryAssign, text: anna.Email, author: boss.Email, action: "appeal.assign",
			detail: "assignee " + anna.Email, afterCheck: `SELECT count(*) FROM appeals WHERE assignee_id IS NOT NULL`,
		},
		{name: "assign to the assignee again changes nothing", act: func() error { return s.Assign(ctx, boss, ref, anna.ID) }},
		{name: "assign to a disabled account", act: func() error { return s.Assign(ctx, boss, ref, gone.ID) }, code: migrantbot.EINVALID},
		{name: "assign to nobody known", act: func() error { return s.Assign(ctx, boss, ref, 999) }, code: migrantbot.EINVALID},
		{name: "assign a missing appeal", act: func() error { return s.Assign(ctx, boss, "AP-1999-000001", anna.ID) }, code: migrantbot.ENOTFOUND},
		{
			name: "unassign", act: func() error { return s.Assign(ctx, anna, ref, 0) },
			kind: migrantbot.EntryAssign, author: anna.Email, action: "appeal.assign", detail: "unassigned",
			afterCheck: `SELECT count(*) FROM appeals WHERE assignee_id IS NULL`,
		},
		{
			name: "status with a message", act: func() error { return s.ChangeStatus(ctx, anna, ref, migrantbot.StatusInReview, "", msg) },
			kind: migrantbot.EntryStatus, status: migrantbot.StatusInReview, author: anna.Email, message: true,
			action: "appeal.status", detail: "new -> in_review", afterCheck: `SELECT count(*) FROM appeals WHERE status = 'in_review'`,
		},
		{
			name: "status without a message", act: func() error { return s.ChangeStatus(ctx, anna, ref, migrantbot.StatusReferred, "", nil) },
			kind: migrantbot.EntryStatus, status: migrantbot.StatusReferred, author: anna.Email,
			action: "appeal.status", detail: "in_review -> referred",
		},
		{name: "status backwards", act: func() error { return s.ChangeStatus(ctx, anna, ref, migrantbot.StatusNew, "", msg) }, code: migrantbot.EINVALID},
		{
			name: "referral", act: func() error {
				return s.Refer(ctx, anna, ref, migrantbot.Referral{Partner: "embassy", Name: " Embassy of Uzbekistan ", Date: day, Note: "sent by post"})
			},
			kind: migrantbot.EntryReferral, text: "Embassy of Uzbekistan", author: anna.Email, action: "appeal.refer",
			detail: "partner embassy on 2026-03-10", afterCheck: `SELECT count(*) FROM referrals WHERE referred_on = '2026-03-10' AND note LIKE 'enc:v1:%'`,
		},
		{name: "referral to an unknown partner", act: func() error {
			return s.Refer(ctx, anna, ref, migrantbot.Referral{Partner: "police", Date: day})
		}, code: migrantbot.EINVALID},
		{name: "referral without a date", act: func() error {
			return s.Refer(ctx, anna, ref, migrantbot.Referral{Partner: "ngo"})
		}, code: migrantbot.EINVALID},
		{
			name: "note", act: func() error { return s.AddNote(ctx, anna, ref, "  Called the employer.  ") },
			kind: migrantbot.EntryNote, text: "Called the employer.", author: anna.Email, action: "appeal.note",
		},
		{name: "empty note", act: func() error { return s.AddNote(ctx, anna, ref, " \n ") }, code: migrantbot.EINVALID},
		{
			name: "reply", act: func() error {
				return s.Reply(ctx, anna, ref, "We wrote to the employer.", migrantbot.Message{Text: "<b>" + ref + "</b>: We wrote to the employer."})
			},
			kind: migrantbot.EntryReply, text: "We wrote to the employer.", author: anna.Email, message: true, action: "appeal.reply",
			afterCheck: `SELECT count(*) FROM appeals WHERE first_answer_at IS NOT NULL`,
		},
		{name: "empty reply", act: func() error { return s.Reply(ctx, anna, ref, "   ", migrantbot.Message{Text: "x"}) }, code: migrantbot.EINVALID},
		{name: "reply too long", act: func() error {
			return s.Reply(ctx, anna, ref, strings.Repeat("ə", 4001), migrantbot.Message{Text: "x"})
		}, code: migrantbot.EINVALID},
		{
			name: "reply of 4000 letters", act: func() error {
				return s.Reply(ctx, anna, ref, strings.Repeat("ə", 4000), migrantbot.Message{Text: "long"})
			},
			kind: migrantbot.EntryReply, text: strings.Repeat("ə", 4000), author: anna.Email, message: true, action: "appeal.reply",
		},
		{name: "reply to a missing appeal", act: func() error {
			return s.Reply(ctx, anna, "AP-1999-000001", "hello", migrantbot.Message{Text: "x"})
		}, code: migrantbot.ENOTFOUND},
		{
			name: "rejection with its reason", act: func() error {
				return s.ChangeStatus(ctx, boss, ref, migrantbot.StatusRejected, " Outside our mandate. ", &migrantbot.Message{Text: "rejected"})
			},
			kind: migrantbot.EntryStatus, text: "Outside our mandate.", status: migrantbot.StatusRejected, author: boss.Email,
			message: true, action: "appeal.status", detail: "referred -> rejected",
			afterCheck: `SELECT count(*) FROM appeals WHERE status = 'rejected' AND closed_at IS NOT NULL`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := rowsNow(t, s)
			err := tc.act()
			after := rowsNow(t, s)
			if tc.code != "" || tc.kind == "" {
				if tc.code == "" {
					must(t, "action", err)
				} else {
					wantCode(t, "action", err, tc.code)
				}
				if after != before {
					t.Errorf("rows after a refused or empty action: got %+v, want %+v", after, before)
				}
				return
			}
			must(t, "action", err)
			want := before
			want.thread++
			want.audit++
			if tc.message {
				want.outbox++
			}
			if after != want {
				t.Errorf("rows: got %+v, want %+v", after, want)
			}
			d, err := s.AppealDetail(ctx, ref)
			must(t, "AppealDetail", err)
			e := d.Thread[len(d.Thread)-1]
			if e.Kind != tc.kind || e.Text != tc.text || e.Status != tc.status || e.Author != tc.author || time.Since(e.At) > time.Minute {
				t.Errorf("thread entry: got %+v, want kind %s, text %q, status %q, author %s", e, tc.kind, tc.text, tc.status, tc.author)
			}
			wantDelivery := ""
			if tc.message {
				wantDelivery = migrantbot.DeliveryPending
			}
			if e.Delivery != wantDelivery {
				t.Errorf("delivery: got %q, want %q", e.Delivery, wantDelivery)
			}
			audit, err := s.ListAudit(ctx, "", "", "", 1)
			must(t, "ListAudit", err)
			if a := audit[0]; a.Actor != tc.author || a.Action != tc.action || a.Target != ref || a.Detail != tc.detail {
				t.Errorf("audit entry: got %+v, want %s %s %s %q", a, tc.author, tc.action, ref, tc.detail)
			}
			if tc.message {
				// The message is due for the worker at once, to the person's chat.
				due := mustDue(t, s, 10)
				if len(due) != 1 || due[0].ChatID != 42 {
					t.Errorf("due messages: got %+v, want one to chat 42", due)
				}
				var linked int64
				if err := s.Pool().QueryRow(ctx, `SELECT outbox_id FROM thread_entries WHERE id = $1`, e.ID).Scan(&linked); err != nil || len(due) == 0 || linked != due[0].ID {
					t.Errorf("thread entry linked to outbox %d (%v), want %+v", linked, err, due)
				}
				for _, o := range due {
					must(t, "MarkSent", s.MarkSent(ctx, o.ID))
				}
			}
			if tc.afterCheck != "" {
				if n := count(t, s, tc.afterCheck); n != 1 {
					t.Errorf("%s: got %d, want 1", tc.afterCheck, n)
				}
			}
		})
	}

	// The first reply's time is kept by later replies.
	var first, closed time.Time
	must(t, "first answer", s.Pool().QueryRow(ctx, `SELECT first_answer_at, closed_at FROM appeals WHERE reference = $1`, ref).Scan(&first, &closed))
	if n := count(t, s, `SELECT count(*) FROM thread_entries WHERE kind = 'reply' AND at = $1`, first); n != 1 {
		t.Errorf("first_answer_at %v is not the time of the first reply", first)
	}
}

func TestStatusTransitions(t *testing.T) {
	all := []migrantbot.Status{migrantbot.StatusNew, migrantbot.StatusInReview, migrantbot.StatusReferred,
		migrantbot.StatusAnswered, migrantbot.StatusClosed, migrantbot.StatusRejected}
	// allowed[from] lists where an appeal may go from there.
	allowed := map[migrantbot.Status][]migrantbot.Status{
		migrantbot.StatusNew:      {"in_review", "referred", "answered", "closed", "rejected"},
		migrantbot.StatusInReview: {"referred", "answered", "closed", "rejected"},
		migrantbot.StatusReferred: {"answered", "closed", "rejected"},
		migrantbot.StatusAnswered: {"closed", "rejected"},
		migrantbot.StatusClosed:   nil,
		migrantbot.StatusRejected: nil,
	}
	s := storetest.NewStore(t)
	ctx := t.Context()
	boss := newStaff(t, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	user := int64(1000)
	for _, from := range all {
		for _, to := range append(all, "archived") {
			ok := false
			for _, a := range allowed[from] {
				ok = ok || a == to
			}
			t.Run(string(from)+" to "+string(to), func(t *testing.T) {
				user++
				ref := submit(t, s, migrantbot.Appeal{UserID: user})
				exec(t, s, `UPDATE appeals SET status = $2 WHERE reference = $1`, ref, string(from))
				err := s.ChangeStatus(ctx, boss, ref, to, "a reason", nil)
				if !ok {
					wantCode(t, "ChangeStatus", err, migrantbot.EINVALID)
					return
				}
				must(t, "ChangeStatus", err)
				a, err := s.Appeal(ctx, ref)
				must(t, "Appeal", err)
				if a.Status != to {
					t.Errorf("status: got %s, want %s", a.Status, to)
				}
				final := count(t, s, `SELECT count(*) FROM appeals WHERE reference = $1 AND closed_at IS NOT NULL`, ref) == 1
				if want := to == migrantbot.StatusClosed || to == migrantbot.StatusRejected; final != want {
					t.Errorf("closed_at set: got %t, want %t", final, want)
				}
			})
		}
	}
	ref := submit(t, s, migrantbot.Appeal{UserID: 2000})
	wantCode(t, "rejection without a reason", s.ChangeStatus(ctx, boss, ref, migrantbot.StatusRejected, "  ", nil), migrantbot.EINVALID)
	wantCode(t, "reason too long", s.ChangeStatus(ctx, boss, ref, migrantbot.StatusRejected, strings.Repeat("x", 501), nil), migrantbot.EINVALID)
	wantCode(t, "missing appeal", s.ChangeStatus(ctx, boss, "AP-1999-000001", migrantbot.StatusClosed, "", nil), migrantbot.ENOTFOUND)
}

// TestAppealDetail follows the thread of one appeal through follow-ups,
// staff's work and the delivery of the messages to the person, and what
// the person sees of it.
func TestAppealDetail(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	const person = 77
	ref := submit(t, s, migrantbot.Appeal{UserID: person, Surname: "Əliyev", Category: "labour",
		Attachments: []migrantbot.Attachment{{FileID: "f1", FileUniqueID: "u1", Kind: "photo", Size: 5}}})
	other := submit(t, s, migrantbot.Appeal{UserID: 88})
	doc := &migrantbot.Attachment{FileID: "f2", FileUniqueID: "u2", Kind: "document", FileName: "contract.pdf", MimeType: "application/pdf", Caption: "my contract"}

	// The person adds a message and a file.
	followUp(t, s, person, migrantbot.FollowUp{Reference: ref, Text: "They still have my passport <b>"})
	followUp(t, s, person, migrantbot.FollowUp{Reference: ref, File: doc})
	must(t, "Assign", s.Assign(ctx, anna, ref, anna.ID))
	must(t, "AddNote", s.AddNote(ctx, anna, ref, "internal: employer known to us"))
	must(t, "Refer", s.Refer(ctx, anna, ref, migrantbot.Referral{Partner: "sms", Date: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Note: "ask about passport"}))
	must(t, "ChangeStatus", s.ChangeStatus(ctx, anna, ref, migrantbot.StatusInReview, "", &migrantbot.Message{Text: "in review"}))
	must(t, "Reply", s.Reply(ctx, anna, ref, "Please send the contract.", migrantbot.Message{Text: "reply 1"}))
	must(t, "Reply", s.Reply(ctx, anna, ref, "Thank you.", migrantbot.Message{Text: "reply 2"}))

	d, err := s.AppealDetail(ctx, ref)
	must(t, "AppealDetail", err)
	if d.Appeal.Reference != ref || d.Appeal.Surname != "Əliyev" || len(d.Appeal.Attachments) != 1 || d.AssigneeID != anna.ID ||
		d.AssigneeEmail != anna.Email || !d.HasNews || d.Blocked {
		t.Errorf("detail: got %+v", d)
	}
	type line struct {
		kind, author, text, delivery string
	}
	lines := func(th []migrantbot.ThreadEntry) []line {
		var out []line
		for _, e := range th {
			out = append(out, line{e.Kind, e.Author, e.Text, e.Delivery})
		}
		return out
	}
	want := []line{
		{"migrant", "", "They still have my passport <b>", ""},
		{"migrant", "", "", ""},
		{"assign", anna.Email, anna.Email, ""},
		{"note", anna.Email, "internal: employer known to us", ""},
		{"referral", anna.Email, "sms", ""},
		{"status", anna.Email, "", "pending"},
		{"reply", anna.Email, "Please send the contract.", "pending"},
		{"reply", anna.Email, "Thank you.", "pending"},
	}
	if got := lines(d.Thread); !reflect.DeepEqual(got, want) {
		t.Errorf("thread:\n got %+v\nwant %+v", got, want)
	}
	if a := d.Thread[1].Attachment; a == nil || *a != *doc {
		t.Errorf("file of the follow-up: got %+v, want %+v", a, doc)
	}
	for i := 1; i < len(d.Thread); i++ {
		if d.Thread[i].At.Before(d.Thread[i-1].At) || d.Thread[i].ID <= d.Thread[i-1].ID {
			t.Errorf("thread not oldest first at %d", i)
		}
	}
	if len(d.Referrals) != 1 || d.Referrals[0].By != anna.Email || d.Referrals[0].Note != "ask about passport" ||
		d.Referrals[0].Date.Format(time.DateOnly) != "2026-03-02" || d.Referrals[0].Partner != "sms" {
		t.Errorf("referrals: got %+v", d.Referrals)
	}
	if d.Thread[5].Status != migrantbot.StatusInReview {
		t.Errorf("status entry: got status %q", d.Thread[5].Status)
	}

	// Delivery: the status message is sent, the first reply fails for a
	// while, the second finds the person has blocked the bot.
	due := mustDue(t, s, 10)
	if len(due) != 3 {
		t.Fatalf("due: got %d messages, want 3", len(due))
	}
	must(t, "MarkSent", s.MarkSent(ctx, due[0].ID))
	must(t, "Retry", s.Retry(ctx, due[1].ID, time.Minute, "Bad Gateway"))
	must(t, "Blocked", s.Blocked(ctx, due[2].ID, "Forbidden: bot was blocked by the user"))
	must(t, "MarkSeen", s.MarkSeen(ctx, ref))
	d, err = s.AppealDetail(ctx, ref)
	must(t, "AppealDetail", err)
	var states []string
	for _, e := range d.Thread[5:] {
		states = append(states, e.Delivery+":"+e.LastError)
	}
	if want := []string{"sent:", "failed:Bad Gateway", "blocked:Forbidden: bot was blocked by the user"}; !reflect.DeepEqual(states, want) {
		t.Errorf("delivery states: got %q, want %q", states, want)
	}
	if !d.Blocked || d.HasNews {
		t.Errorf("after blocking and MarkSeen: Blocked %t HasNews %t, want true, false", d.Blocked, d.HasNews)
	}

	// What the person sees: their appeal, status changes, replies and what
	// they sent, without staff, notes or referrals.
	var seen migrantbot.AppealDetail
	var seenErr, otherErr, missingErr error
	apply(t, s, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		seen, seenErr = rec.AppealOf(person, ref)
		_, otherErr = rec.AppealOf(person, other)
		_, missingErr = rec.AppealOf(person, "AP-1999-000001")
		return migrantbot.Turn{Session: sess}, nil
	})
	must(t, "AppealOf", seenErr)
	wantCode(t, "AppealOf someone else's appeal", otherErr, migrantbot.ENOTFOUND)
	wantCode(t, "AppealOf a missing appeal", missingErr, migrantbot.ENOTFOUND)
	wantSeen := []line{
		{"migrant", "", "They still have my passport <b>", ""},
		{"migrant", "", "", ""},
		{"status", "", "", "sent"},
		{"reply", "", "Please send the contract.", "failed"},
		{"reply", "", "Thank you.", "blocked"},
	}
	if got := lines(seen.Thread); !reflect.DeepEqual(got, wantSeen) {
		t.Errorf("person's thread:\n got %+v\nwant %+v", got, wantSeen)
	}
	if seen.Appeal.Reference != ref || seen.AssigneeEmail != "" || seen.AssigneeID != 0 || seen.Referrals != nil || len(seen.Appeal.Attachments) != 1 {
		t.Errorf("person's view: got %+v", seen)
	}
	raw, _ := json.Marshal(seen)
	for _, secret := range []string{anna.Email, "internal", "ask about passport"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("person's view shows %q", secret)
		}
	}

	_, err = s.AppealDetail(ctx, "AP-1999-000001")
	wantCode(t, "AppealDetail of a missing appeal", err, migrantbot.ENOTFOUND)
	wantCode(t, "MarkSeen of a missing appeal", s.MarkSeen(ctx, "AP-1999-000001"), migrantbot.ENOTFOUND)
}

// followUp applies a turn of the person that adds f to their appeal.
func followUp(tb testing.TB, s *store.Store, person int64, f migrantbot.FollowUp) {
	tb.Helper()
	apply(tb, s, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		return migrantbot.Turn{Session: sess, FollowUps: []migrantbot.FollowUp{f}}, nil
	})
}

func TestApplyFollowUps(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	const person, stranger = 61, 62
	mine := submit(t, s, migrantbot.Appeal{UserID: person})
	theirs := submit(t, s, migrantbot.Appeal{UserID: stranger})
	const group = -100123

	h := apply(t, s, migrantbot.Update{ID: 5001, ChatID: person, UserID: person}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		sess.State = "followup.done"
		return migrantbot.Turn{
			Session:   sess,
			FollowUps: []migrantbot.FollowUp{{Reference: mine, Text: "one more thing", File: &migrantbot.Attachment{FileID: "f", FileUniqueID: "u", Kind: "photo"}}},
			Messages:  []migrantbot.Message{{Text: "added"}},
			Others:    []migrantbot.Outgoing{{ChatID: group, Message: migrantbot.Message{Text: "news on " + mine}}},
		}, nil
	})
	if len(h.Outgoing) != 2 || h.Outgoing[0].ChatID != person || h.Outgoing[1].ChatID != group ||
		h.Outgoing[1].Message.Text != "news on "+mine || h.Outgoing[1].ID <= h.Outgoing[0].ID {
		t.Errorf("Outgoing: got %+v, want the answer to the person, then the group's message", h.Outgoing)
	}
	if n := count(t, s, `SELECT count(*) FROM outbox WHERE chat_id = $1`, int64(group)); n != 1 {
		t.Errorf("outbox rows to the group: got %d, want 1", n)
	}
	d, err := s.AppealDetail(ctx, mine)
	must(t, "AppealDetail", err)
	if len(d.Thread) != 1 || d.Thread[0].Kind != migrantbot.EntryMigrant || d.Thread[0].Text != "one more thing" ||
		d.Thread[0].Attachment == nil || !d.HasNews {
		t.Errorf("after a follow-up: thread %+v, has news %t", d.Thread, d.HasNews)
	}

	for _, tc := range []struct {
		name string
		f    migrantbot.FollowUp
	}{
		{"someone else's appeal", migrantbot.FollowUp{Reference: theirs, Text: "hijack"}},
		{"a missing appeal", migrantbot.FollowUp{Reference: "AP-1999-000001", Text: "hello"}},
		{"nothing in it", migrantbot.FollowUp{Reference: mine}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rowsNow(t, s)
			sessBefore, err := s.Session(ctx, person)
			must(t, "Session", err)
			_, err = s.Apply(ctx, migrantbot.Update{ID: 5002, ChatID: person, UserID: person}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
				sess.State = "moved"
				return migrantbot.Turn{Session: sess, FollowUps: []migrantbot.FollowUp{tc.f}, Messages: []migrantbot.Message{{Text: "added"}}}, nil
			})
			wantCode(t, "Apply", err, migrantbot.EINVALID)
			if after := rowsNow(t, s); after != before {
				t.Errorf("rows after a refused follow-up: got %+v, want %+v", after, before)
			}
			if sessAfter, _ := s.Session(ctx, person); !reflect.DeepEqual(sessAfter, sessBefore) {
				t.Errorf("session after a refused follow-up: got %+v, want %+v", sessAfter, sessBefore)
			}
			if n := count(t, s, `SELECT count(*) FROM processed_updates WHERE update_id = 5002`); n != 0 {
				t.Errorf("refused update recorded as processed")
			}
		})
	}
	if d, _ := s.AppealDetail(ctx, theirs); len(d.Thread) != 0 || d.HasNews {
		t.Errorf("someone else's appeal changed: %+v", d)
	}
}

func TestOutboxBlocked(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	const person = 71
	apply(t, s, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		sess.Lang = "az"
		return migrantbot.Turn{Session: sess, Messages: []migrantbot.Message{{Text: "one"}, {Text: "two"}, {Text: "three"}}}, nil
	})
	makeDue(t, s)
	due := mustDue(t, s, 10)
	if len(due) != 3 {
		t.Fatalf("due: got %d, want 3", len(due))
	}
	blocked := func() bool {
		return count(t, s, `SELECT count(*) FROM users WHERE user_id = $1 AND blocked_at IS NOT NULL`, int64(person)) == 1
	}

	must(t, "Blocked", s.Blocked(ctx, due[0].ID, "Forbidden: bot was blocked by the user"))
	must(t, "Blocked twice", s.Blocked(ctx, due[0].ID, "again"))
	if !blocked() {
		t.Errorf("person not marked blocked")
	}
	// A retry reported late leaves the message blocked, and it is never due.
	must(t, "Retry of a blocked message", s.Retry(ctx, due[0].ID, 0, "late"))
	makeDue(t, s)
	if again := mustDue(t, s, 10); len(again) != 2 || again[0].ID == due[0].ID || again[1].ID == due[0].ID {
		t.Errorf("due after blocking: got %+v, want the two others", again)
	}
	if n := count(t, s, `SELECT count(*) FROM outbox WHERE id = $1 AND sent_at IS NULL AND blocked_at IS NOT NULL
		AND last_error = 'Forbidden: bot was blocked by the user'`, due[0].ID); n != 1 {
		t.Errorf("blocked message row not as expected")
	}
	wantCode(t, "Blocked of a missing message", s.Blocked(ctx, 999999, "x"), migrantbot.ENOTFOUND)

	// A message that gets through shows the person is reachable again.
	must(t, "MarkSent", s.MarkSent(ctx, due[1].ID))
	if blocked() {
		t.Errorf("person still marked blocked after a delivery")
	}
	must(t, "Blocked of a sent message", s.Blocked(ctx, due[1].ID, "late"))
	if blocked() {
		t.Errorf("a late block report of a sent message marked the person blocked")
	}
	// So does the person writing to the bot.
	must(t, "Blocked", s.Blocked(ctx, due[2].ID, "Forbidden"))
	if !blocked() {
		t.Fatalf("person not marked blocked")
	}
	apply(t, s, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
		return migrantbot.Turn{Session: sess}, nil
	})
	if blocked() {
		t.Errorf("person still marked blocked after writing to the bot")
	}
}

// TestActionIsOneTransaction makes the last write of an action fail and
// checks that none of its writes stays.
func TestActionIsOneTransaction(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleReviewer)
	ref := submit(t, s, migrantbot.Appeal{UserID: 42})
	exec(t, s, `CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'audit refused for the test'; END $$`)
	exec(t, s, `CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_audit()`)

	for name, act := range map[string]func() error{
		"reply": func() error { return s.Reply(ctx, anna, ref, "hello", migrantbot.Message{Text: "hello"}) },
		"status": func() error {
			return s.ChangeStatus(ctx, anna, ref, migrantbot.StatusClosed, "", &migrantbot.Message{Text: "closed"})
		},
		"assign": func() error { return s.Assign(ctx, anna, ref, anna.ID) },
		"refer": func() error {
			return s.Refer(ctx, anna, ref, migrantbot.Referral{Partner: "ngo", Date: time.Now()})
		},
	} {
		t.Run(name, func(t *testing.T) {
			before := rowsNow(t, s)
			if err := act(); err == nil {
				t.Fatal("action succeeded though its audit entry failed")
			}
			if after := rowsNow(t, s); after != before {
				t.Errorf("rows: got %+v, want %+v", after, before)
			}
			a, err := s.AppealDetail(ctx, ref)
			must(t, "AppealDetail", err)
			if a.Appeal.Status != migrantbot.StatusNew || a.AssigneeID != 0 || len(a.Referrals) != 0 {
				t.Errorf("appeal changed: %+v", a)
			}
			if n := count(t, s, `SELECT count(*) FROM appeals WHERE first_answer_at IS NOT NULL OR closed_at IS NOT NULL`); n != 0 {
				t.Errorf("appeal times changed")
			}
		})
	}
}
