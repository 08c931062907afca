package store_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// resetState is the dialogs' main menu, where a session whose draft was
// dropped goes back to.
const resetState = "menu"

// retentionFixture is a database with data on both sides of every period
// of the default policy, and what a run is expected to change.
type retentionFixture struct {
	s      *store.Store
	policy store.RetentionPolicy
	// old are the appeals past their period, kept those that are not (an
	// appeal closed inside the period, an open one submitted years ago, a
	// new one); marks holds the marked value of each appeal's personal data.
	old, kept []string
	marks     map[string]string
	// changed and deleted are the rows ("table/key") a run must change or
	// delete; every other row must stay as it is.
	changed, deleted map[string]bool
	resetChat        int64 // the session whose draft is abandoned
}

// ago sets a time column of one row to d before now.
func ago(tb testing.TB, s *store.Store, table, key string, id any, column string, d time.Duration) {
	tb.Helper()
	exec(tb, s, `UPDATE `+table+` SET `+column+` = now() - $2::bigint * interval '1 microsecond' WHERE `+key+` = $1`,
		id, d.Microseconds())
}

// fileMarked submits an appeal of user whose every personal field and file
// carries mark, and returns its reference and the id of its confirmation
// message in the outbox.
func fileMarked(tb testing.TB, s *store.Store, user int64, category, mark string) (string, int64) {
	tb.Helper()
	a := migrantbot.Appeal{UserID: user, ChatID: user, Language: "ru",
		Surname: mark + " Surname", FirstName: mark + " First", Patronymic: mark + " Patronymic",
		Citizenship: "UZ", Country: "AZ", City: mark + " City", Address: mark + " Address",
		Category: category, Authority: mark + " Authority", When: "2020-01-02",
		Description: mark + " what happened to me", Phone: "+994 " + mark, Email: mark + "@example.org",
		Attachments: []migrantbot.Attachment{
			{FileID: "photo-" + mark, FileUniqueID: "u1-" + mark, Kind: "photo", Size: 1000, Caption: mark + " caption"},
			{FileID: "doc-" + mark, FileUniqueID: "u2-" + mark, Kind: "document", Size: 2000, FileName: mark + ".pdf", MimeType: "application/pdf"},
		}}
	var ref string
	h := apply(tb, s, migrantbot.Update{ChatID: user, UserID: user}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		if ref, err = rec.NextReference(); err != nil {
			return migrantbot.Turn{}, err
		}
		a.Reference = ref
		sess.State, sess.Lang = resetState, a.Language
		return migrantbot.Turn{Session: sess, Submit: &a, Messages: []migrantbot.Message{{Text: "received " + ref + " " + mark}}}, nil
	})
	return ref, h.Outgoing[0].ID
}

// entryIDs returns the ids of the thread entries of ref of the given kinds.
func entryIDs(tb testing.TB, s *store.Store, ref string, kinds ...string) []int64 {
	tb.Helper()
	rows, err := s.Pool().Query(tb.Context(), `SELECT t.id FROM thread_entries t JOIN appeals a ON a.id = t.appeal_id
		WHERE a.reference = $1 AND t.kind = ANY($2) ORDER BY t.id`, ref, kinds)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		ids = append(ids, id)
	}
	if rows.Err() != nil || len(ids) == 0 {
		tb.Fatalf("thread entries %v of %s: %v, %d found", kinds, ref, rows.Err(), len(ids))
	}
	return ids
}

// ids runs a query returning ids.
func ids(tb testing.TB, s *store.Store, sql string, args ...any) []int64 {
	tb.Helper()
	rows, err := s.Pool().Query(tb.Context(), sql, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func newRetentionFixture(tb testing.TB) *retentionFixture {
	tb.Helper()
	s := storetest.NewStore(tb)
	ctx := tb.Context()
	p := store.DefaultRetention(resetState)
	f := &retentionFixture{s: s, policy: p, marks: map[string]string{}, changed: map[string]bool{}, deleted: map[string]bool{}}
	boss := newStaff(tb, s, "boss@ombudsman.example", migrantbot.RoleAdmin)
	const day = 24 * time.Hour
	years := func(n int) time.Duration { return time.Duration(n) * 365 * day }

	type appeal struct {
		name   string
		user   int64
		status migrantbot.Status
		reason string
		// closed is how long ago it was closed, submitted how long ago it was filed.
		closed, submitted time.Duration
		old               bool // past its period
		sent              bool // its messages were delivered (when it was closed)
	}
	for _, a := range []appeal{
		{"closed past the period", 11, migrantbot.StatusClosed, "", p.ClosedAge + day, years(6), true, true},
		{"rejected past the period", 12, migrantbot.StatusRejected, "MARK-12 reason", p.ClosedAge + 10*day, years(6), true, true},
		{"closed inside the period", 13, migrantbot.StatusClosed, "", p.ClosedAge - day, years(6), false, true},
		{"open for years", 14, migrantbot.StatusInReview, "", 0, years(6), false, true},
		{"new", 15, "", "", 0, 0, false, false},
	} {
		mark := fmt.Sprintf("MARK-%d", a.user)
		ref, confirmation := fileMarked(tb, s, a.user, "labour", mark)
		f.marks[ref] = mark
		followUp(tb, s, a.user, migrantbot.FollowUp{Reference: ref, Text: mark + " more",
			File: &migrantbot.Attachment{FileID: "more-" + mark, FileUniqueID: "u3-" + mark, Kind: "photo", Caption: mark + " caption 2"}})
		must(tb, "Assign", s.Assign(ctx, boss, ref, boss.ID))
		must(tb, "Reply", s.Reply(ctx, boss, ref, mark+" reply", migrantbot.Message{Text: mark + " reply"}))
		must(tb, "AddNote", s.AddNote(ctx, boss, ref, mark+" note"))
		must(tb, "Refer", s.Refer(ctx, boss, ref, migrantbot.Referral{Partner: "embassy", Name: "Embassy of Uzbekistan",
			Date: time.Date(2020, 2, 3, 0, 0, 0, 0, time.UTC), Note: mark + " referral note"}))
		if a.status != "" {
			must(tb, "ChangeStatus", s.ChangeStatus(ctx, boss, ref, a.status, a.reason, &migrantbot.Message{Text: mark + " status"}))
		}
		if a.submitted > 0 {
			ago(tb, s, "appeals", "reference", ref, "submitted_at", a.submitted)
		}
		if a.closed > 0 {
			ago(tb, s, "appeals", "reference", ref, "closed_at", a.closed)
		}
		linked := ids(tb, s, `SELECT t.outbox_id FROM thread_entries t JOIN appeals a ON a.id = t.appeal_id
			WHERE a.reference = $1 AND t.outbox_id IS NOT NULL`, ref)
		if a.sent {
			for _, id := range append([]int64{confirmation}, linked...) {
				must(tb, "MarkSent", s.MarkSent(ctx, id))
				ago(tb, s, "outbox", "id", id, "sent_at", max(a.closed, a.submitted-day))
			}
			// Delivered long ago: the confirmation goes; the messages the
			// thread links stay for their delivery state, emptied.
			f.deleted[fmt.Sprint("outbox/", confirmation)] = true
			for _, id := range linked {
				f.changed[fmt.Sprint("outbox/", id)] = true
			}
		}
		if !a.old {
			f.kept = append(f.kept, ref)
			continue
		}
		f.old = append(f.old, ref)
		f.changed["appeals/"+ref] = true
		kinds := []string{migrantbot.EntryMigrant, migrantbot.EntryReply, migrantbot.EntryNote}
		if a.reason != "" {
			kinds = append(kinds, migrantbot.EntryStatus)
		}
		for _, id := range entryIDs(tb, s, ref, kinds...) {
			f.changed[fmt.Sprint("thread_entries/", id)] = true
		}
		for _, id := range ids(tb, s, `SELECT r.id FROM referrals r JOIN appeals a ON a.id = r.appeal_id WHERE a.reference = $1`, ref) {
			f.changed[fmt.Sprint("referrals/", id)] = true
		}
		for _, id := range ids(tb, s, `SELECT f.id FROM attachments f JOIN appeals a ON a.id = f.appeal_id WHERE a.reference = $1`, ref) {
			f.deleted[fmt.Sprint("attachments/", id)] = true
		}
	}

	// Drafts: abandoned, still recent, and a session without one.
	type session struct {
		chat     int64
		update   int64
		draft    bool
		idle     time.Duration
		received time.Duration // how long ago its update was processed
	}
	for _, c := range []session{
		{21, 9001, true, p.DraftAge + day, p.UpdatesAge + day},
		{22, 9002, true, p.DraftAge - day, p.UpdatesAge - day},
		{23, 9003, false, p.DraftAge + 10*day, 0},
	} {
		h := apply(tb, s, migrantbot.Update{ID: c.update, ChatID: c.chat, UserID: c.chat}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			sess.Lang, sess.State = "ru", resetState
			if c.draft {
				mark := fmt.Sprintf("MARK-%d", c.chat)
				sess.State, sess.Resume, sess.Preset = "description", "", "labour"
				sess.Draft = &migrantbot.Appeal{Surname: mark + " Surname", Description: mark + " draft",
					Attachments: []migrantbot.Attachment{{FileID: "draft-" + mark, FileUniqueID: "u-" + mark, Kind: "photo"}}}
			}
			return migrantbot.Turn{Session: sess, Messages: []migrantbot.Message{{Text: "question"}}}, nil
		})
		ago(tb, s, "sessions", "chat_id", c.chat, "updated_at", c.idle)
		if c.received > 0 {
			ago(tb, s, "processed_updates", "update_id", c.update, "processed_at", c.received)
		}
		if c.received > p.UpdatesAge {
			f.deleted[fmt.Sprint("processed_updates/", c.update)] = true
		}
		if c.draft && c.idle > p.DraftAge {
			f.resetChat = c.chat
			f.changed[fmt.Sprint("sessions/", c.chat)] = true
		}
		// Their messages: one delivered inside the period, one delivered
		// and one blocked before it (both go), one never delivered (stays).
		id := h.Outgoing[0].ID
		switch c.chat {
		case 21:
			must(tb, "MarkSent", s.MarkSent(ctx, id))
			ago(tb, s, "outbox", "id", id, "sent_at", p.DeliveryAge+day)
			f.deleted[fmt.Sprint("outbox/", id)] = true
		case 22:
			must(tb, "MarkSent", s.MarkSent(ctx, id))
			ago(tb, s, "outbox", "id", id, "sent_at", p.DeliveryAge-day)
		case 23:
			must(tb, "Blocked", s.Blocked(ctx, id, "Forbidden: bot was blocked by the user"))
			ago(tb, s, "outbox", "id", id, "blocked_at", p.DeliveryAge+day)
			f.deleted[fmt.Sprint("outbox/", id)] = true
		}
	}
	return f
}

// snapshot reads every row of the tables retention may touch, as JSON
// keyed by table and key. appeal_counts, which the statistics read, is
// keyed by the whole row.
func snapshot(tb testing.TB, s *store.Store) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for table, key := range map[string]string{
		"appeals": "reference", "attachments": "id", "thread_entries": "id", "referrals": "id", "outbox": "id",
		"sessions": "chat_id", "processed_updates": "update_id", "users": "user_id", "audit_log": "id",
		"appeal_counts": "to_jsonb(t)::text", "staff": "id",
	} {
		if !strings.Contains(key, "(") {
			key = "t." + key + "::text"
		}
		rows, err := s.Pool().Query(tb.Context(), `SELECT `+key+`, to_jsonb(t)::text FROM `+table+` t`)
		if err != nil {
			tb.Fatalf("snapshot %s: %v", table, err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				tb.Fatalf("snapshot %s: %v", table, err)
			}
			out[table+"/"+k] = v
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			tb.Fatalf("snapshot %s: %v", table, err)
		}
	}
	return out
}

// diff returns the keys changed, deleted and added from before to after.
func diff(before, after map[string]string) (changed, deleted, added map[string]bool) {
	changed, deleted, added = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for k, v := range before {
		switch w, ok := after[k]; {
		case !ok:
			deleted[k] = true
		case w != v:
			changed[k] = true
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			added[k] = true
		}
	}
	return changed, deleted, added
}

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// checkRun checks a report against the fixture's expectations.
func (f *retentionFixture) checkRun(tb testing.TB, rep store.RetentionReport) {
	tb.Helper()
	count := func(prefix string, m map[string]bool) int {
		n := 0
		for k := range m {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		return n
	}
	want := store.RetentionReport{Ran: true, DryRun: rep.DryRun, DraftsReset: count("sessions/", f.changed), Anonymized: f.old,
		UpdatesPruned: count("processed_updates/", f.deleted), OutboxDeleted: count("outbox/", f.deleted),
		OutboxBlanked: count("outbox/", f.changed)}
	got := rep
	slices.Sort(got.Anonymized)
	slices.Sort(want.Anonymized)
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("report\n got %+v\nwant %+v", got, want)
	}
}

// TestRetention runs the retention over data on both sides of every period
// and checks, row by row, that what is past its period is removed or
// anonymized and nothing else changes, that the statistics stay the same,
// and that a second run does nothing.
func TestRetention(t *testing.T) {
	f := newRetentionFixture(t)
	s, ctx := f.s, t.Context()
	statsBefore, err := s.Stats(ctx)
	must(t, "Stats", err)
	detailBefore := map[string]migrantbot.AppealDetail{}
	for _, ref := range append(slices.Clone(f.old), f.kept...) {
		d, err := s.AppealDetail(ctx, ref)
		must(t, "AppealDetail", err)
		detailBefore[ref] = d
	}
	before := snapshot(t, s)

	rep, err := s.RunRetention(ctx, f.policy, store.RetentionDaily)
	must(t, "RunRetention", err)
	f.checkRun(t, rep)

	after := snapshot(t, s)
	changed, deleted, added := diff(before, after)
	if !maps.Equal(changed, f.changed) {
		t.Errorf("rows changed:\n got %v\nwant %v", sortedKeys(changed), sortedKeys(f.changed))
	}
	if !maps.Equal(deleted, f.deleted) {
		t.Errorf("rows deleted:\n got %v\nwant %v", sortedKeys(deleted), sortedKeys(f.deleted))
	}
	// Only the audit entries of the anonymizations are new.
	var audited []string
	for k := range added {
		if !strings.HasPrefix(k, "audit_log/") {
			t.Errorf("row added: %s", k)
		}
	}
	for _, e := range mustAudit(t, s, "system", "appeal.anonymize") {
		audited = append(audited, e.Target)
	}
	slices.Sort(audited)
	if want := slices.Sorted(slices.Values(f.old)); len(added) != len(f.old) || !slices.Equal(audited, want) {
		t.Errorf("audit: %d rows added, anonymizations of %v, want %v", len(added), audited, want)
	}

	statsAfter, err := s.Stats(ctx)
	must(t, "Stats", err)
	if !reflect.DeepEqual(statsAfter, statsBefore) {
		t.Errorf("statistics changed:\n got %+v\nwant %+v", statsAfter, statsBefore)
	}

	for _, ref := range f.old {
		t.Run("anonymized "+ref, func(t *testing.T) {
			d, err := s.AppealDetail(ctx, ref)
			must(t, "AppealDetail", err)
			was, a := detailBefore[ref].Appeal, d.Appeal
			for name, v := range map[string]string{"surname": a.Surname, "first name": a.FirstName, "patronymic": a.Patronymic,
				"city": a.City, "address": a.Address, "authority": a.Authority, "description": a.Description,
				"phone": a.Phone, "email": a.Email} {
				if v != "" {
					t.Errorf("%s: got %q, want it removed", name, v)
				}
			}
			if len(a.Attachments) != 0 || a.UserID != 0 || a.ChatID != 0 {
				t.Errorf("attachments %d, user %d, chat %d; want none", len(a.Attachments), a.UserID, a.ChatID)
			}
			kept := [][2]string{{string(a.Status), string(was.Status)}, {a.Category, was.Category}, {a.Citizenship, was.Citizenship},
				{a.Country, was.Country}, {a.Language, was.Language}, {a.When, was.When}, {a.Reference, was.Reference}}
			for _, k := range kept {
				if k[0] != k[1] || k[0] == "" {
					t.Errorf("kept field: got %q, want %q", k[0], k[1])
				}
			}
			if !a.SubmittedAt.Equal(was.SubmittedAt) || !a.ConsentAt.Equal(was.ConsentAt) {
				t.Errorf("dates: submitted %v consent %v, want %v %v", a.SubmittedAt, a.ConsentAt, was.SubmittedAt, was.ConsentAt)
			}
			if len(d.Thread) != len(detailBefore[ref].Thread) || len(d.Referrals) != len(detailBefore[ref].Referrals) {
				t.Errorf("thread %d entries, referrals %d; want %d, %d (kept, emptied)", len(d.Thread), len(d.Referrals),
					len(detailBefore[ref].Thread), len(detailBefore[ref].Referrals))
			}
			for i, e := range d.Thread {
				switch e.Kind {
				case migrantbot.EntryAssign, migrantbot.EntryReferral:
					if e.Text != detailBefore[ref].Thread[i].Text {
						t.Errorf("%s entry: got %q, want it kept", e.Kind, e.Text)
					}
				default:
					if e.Text != "" || e.Attachment != nil {
						t.Errorf("%s entry: text %q, file %v; want both removed", e.Kind, e.Text, e.Attachment)
					}
				}
				if e.Status != detailBefore[ref].Thread[i].Status || e.Delivery != detailBefore[ref].Thread[i].Delivery {
					t.Errorf("%s entry: status %q delivery %q, want %q %q", e.Kind, e.Status, e.Delivery,
						detailBefore[ref].Thread[i].Status, detailBefore[ref].Thread[i].Delivery)
				}
			}
			for _, r := range d.Referrals {
				if r.Note != "" || r.Name == "" {
					t.Errorf("referral: note %q, name %q; want the note removed, the partner kept", r.Note, r.Name)
				}
			}
			page, _ := json.Marshal(d)
			if mark := f.marks[ref]; strings.Contains(string(page), mark) {
				t.Errorf("%s still shows %s: %s", ref, mark, page)
			}
			// The search knew the words of the names and the description;
			// it must not find the appeal by them any more.
			page2, err := s.ListAppeals(ctx, migrantbot.AppealFilter{Query: f.marks[ref]})
			must(t, "ListAppeals", err)
			for _, r := range page2.Rows {
				if r.Reference == ref {
					t.Errorf("a search for %s still finds %s", f.marks[ref], ref)
				}
			}
			var anonymized bool
			must(t, "anonymized_at", s.Pool().QueryRow(ctx, `SELECT anonymized_at IS NOT NULL AND closed_at IS NOT NULL
				FROM appeals WHERE reference = $1`, ref).Scan(&anonymized))
			if !anonymized {
				t.Errorf("anonymized_at is not set, or closed_at was lost")
			}
		})
	}
	for _, ref := range f.kept {
		d, err := s.AppealDetail(ctx, ref)
		must(t, "AppealDetail", err)
		if !reflect.DeepEqual(d.Appeal, detailBefore[ref].Appeal) || !reflect.DeepEqual(d.Referrals, detailBefore[ref].Referrals) {
			t.Errorf("%s changed:\n got %+v\nwant %+v", ref, d.Appeal, detailBefore[ref].Appeal)
		}
		if page, _ := json.Marshal(d); !strings.Contains(string(page), f.marks[ref]) {
			t.Errorf("%s lost its data %s", ref, f.marks[ref])
		}
		page, err := s.ListAppeals(ctx, migrantbot.AppealFilter{Query: f.marks[ref]})
		must(t, "ListAppeals", err)
		if refs := refsOf(page.Rows); !slices.Contains(refs, ref) {
			t.Errorf("a search for %s finds %v, not %s", f.marks[ref], refs, ref)
		}
	}

	sess, err := s.Session(ctx, f.resetChat)
	must(t, "Session", err)
	if sess.Draft != nil || sess.Lang != "ru" || sess.State != resetState || sess.Preset != "" {
		t.Errorf("abandoned session: draft %+v, language %q, state %q, preset %q; want no draft, ru, %s",
			sess.Draft, sess.Lang, sess.State, sess.Preset, resetState)
	}

	// A second run, daily or at once, finds nothing more to do.
	again, err := s.RunRetention(ctx, f.policy, store.RetentionDaily)
	must(t, "RunRetention again", err)
	if again.Ran {
		t.Errorf("the daily run ran again within %v: %+v", f.policy.MinInterval, again)
	}
	now, err := s.RunRetention(ctx, f.policy, store.RetentionNow)
	must(t, "RunRetention now", err)
	if want := (store.RetentionReport{Ran: true}); !reflect.DeepEqual(now, want) {
		t.Errorf("second run: got %+v, want %+v", now, want)
	}
	if _, _, added := diff(after, snapshot(t, s)); len(added) > 0 {
		t.Errorf("the second run added %v", sortedKeys(added))
	}
	if changed, deleted, _ := diff(after, snapshot(t, s)); len(changed)+len(deleted) > 0 {
		t.Errorf("the second run changed %v, deleted %v", sortedKeys(changed), sortedKeys(deleted))
	}
	if n := count(t, s, `SELECT count(*) FROM retention_runs`); n != 2 {
		t.Errorf("retention_runs: %d rows, want 2 (the daily run and the forced one)", n)
	}
}

func mustAudit(tb testing.TB, s *store.Store, actor, action string) []migrantbot.AuditEntry {
	tb.Helper()
	entries, err := s.ListAudit(tb.Context(), actor, action, "", 1000)
	must(tb, "ListAudit", err)
	return entries
}

// TestRetentionDryRun checks that a dry run changes nothing and reports
// what the real run then does.
func TestRetentionDryRun(t *testing.T) {
	f := newRetentionFixture(t)
	s, ctx := f.s, t.Context()
	before := snapshot(t, s)
	dry, err := s.RunRetention(ctx, f.policy, store.RetentionDryRun)
	must(t, "dry run", err)
	if !dry.DryRun {
		t.Errorf("dry run report not marked dry: %+v", dry)
	}
	f.checkRun(t, dry)
	changed, deleted, added := diff(before, snapshot(t, s))
	if len(changed)+len(deleted)+len(added) > 0 {
		t.Errorf("dry run changed %v, deleted %v, added %v", sortedKeys(changed), sortedKeys(deleted), sortedKeys(added))
	}
	if n := count(t, s, `SELECT count(*) FROM retention_runs`); n != 0 {
		t.Errorf("dry run recorded %d runs", n)
	}
	real, err := s.RunRetention(ctx, f.policy, store.RetentionDaily)
	must(t, "real run", err)
	dry.DryRun = false
	if !reflect.DeepEqual(real, dry) {
		t.Errorf("real run\n got %+v\nwant what the dry run said, %+v", real, dry)
	}
}

// TestRetentionConcurrentRuns starts two runs at once, as two instances
// would: the work is done once.
func TestRetentionConcurrentRuns(t *testing.T) {
	for _, mode := range []struct {
		name string
		mode store.RetentionMode
	}{{"daily", store.RetentionDaily}, {"now", store.RetentionNow}} {
		t.Run(mode.name, func(t *testing.T) {
			f := newRetentionFixture(t)
			s := f.s
			var (
				wg      sync.WaitGroup
				reports [2]store.RetentionReport
				errs    [2]error
			)
			for i := range reports {
				wg.Go(func() { reports[i], errs[i] = s.RunRetention(t.Context(), f.policy, mode.mode) })
			}
			wg.Wait()
			var sum store.RetentionReport
			ran := 0
			for i, r := range reports {
				must(t, fmt.Sprint("run ", i), errs[i])
				if r.Ran {
					ran++
				}
				sum.DraftsReset += r.DraftsReset
				sum.Anonymized = append(sum.Anonymized, r.Anonymized...)
				sum.UpdatesPruned += r.UpdatesPruned
				sum.OutboxDeleted += r.OutboxDeleted
				sum.OutboxBlanked += r.OutboxBlanked
			}
			sum.Ran = true
			f.checkRun(t, sum)
			wantRan, wantRuns := 1, int64(1)
			if mode.mode == store.RetentionNow {
				wantRan, wantRuns = 2, 2 // the second waits, then finds nothing
			}
			if ran != wantRan {
				t.Errorf("%d runs ran, want %d: %+v", ran, wantRan, reports)
			}
			if n := count(t, s, `SELECT count(*) FROM retention_runs`); n != wantRuns {
				t.Errorf("retention_runs: %d rows, want %d", n, wantRuns)
			}
			if n := len(mustAudit(t, s, "system", "appeal.anonymize")); n != len(f.old) {
				t.Errorf("anonymizations audited: %d, want %d", n, len(f.old))
			}
		})
	}
}

func TestRetentionRefusesABadPolicy(t *testing.T) {
	s := storetest.NewStore(t)
	good := store.DefaultRetention(resetState)
	tests := []struct {
		name   string
		change func(*store.RetentionPolicy)
	}{
		{"no draft age", func(p *store.RetentionPolicy) { p.DraftAge = 0 }},
		{"negative closed age", func(p *store.RetentionPolicy) { p.ClosedAge = -time.Hour }},
		{"no updates age", func(p *store.RetentionPolicy) { p.UpdatesAge = 0 }},
		{"no delivery age", func(p *store.RetentionPolicy) { p.DeliveryAge = 0 }},
		{"no interval", func(p *store.RetentionPolicy) { p.MinInterval = 0 }},
		{"no reset state", func(p *store.RetentionPolicy) { p.ResetState = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.change(&p)
			_, err := s.RunRetention(t.Context(), p, store.RetentionNow)
			wantCode(t, "RunRetention", err, migrantbot.EINVALID)
		})
	}
	if n := count(t, s, `SELECT count(*) FROM retention_runs`); n != 0 {
		t.Errorf("a refused policy recorded %d runs", n)
	}
}
