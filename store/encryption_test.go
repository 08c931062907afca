package store_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot"
	"migrantbot/sealed"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// marked are personal values, each unlikely to turn up by chance, that a
// complete appeal and its handling spread over every personal column.
var marked = struct {
	surname, firstName, patronymic, city, address, authority, description, phone, email string
	caption, fileName, followUp, followUpCaption, draftName, botMessage                 string
	reply, note, partner, referralNote, reason                                          string
}{
	surname: "Qmarksurnamex", firstName: "Qmarkfirstx", patronymic: "Qmarkpatronx", city: "Qmarkcityx",
	address: "Qmarkaddressx 12", authority: "Qmarkauthorityx", description: "employer took Qmarkdescrx passport",
	phone: "+99450111Q2233", email: "qmarkmail@example.org", caption: "Qmarkcaptionx", fileName: "Qmarkfilex.pdf",
	followUp: "Qmarkfollowx text", followUpCaption: "Qmarkfcapx", draftName: "Qmarkdraftx",
	botMessage: "Your surname is Qmarkechox", reply: "Dear Qmarkreplyx", note: "Qmarknotex seen",
	partner: "Lawyer Qmarkpartnerx", referralNote: "Qmarkrefnotex", reason: "Qmarkreasonx",
}

// markedValues lists the marked values as the tests look for them.
func markedValues() []string {
	m := marked
	return []string{m.surname, m.firstName, m.patronymic, m.city, m.address, m.authority, "Qmarkdescrx", m.phone,
		m.email, m.caption, m.fileName, "Qmarkfollowx", m.followUpCaption, m.draftName, "Qmarkechox", "Qmarkreplyx",
		"Qmarknotex", "Qmarkpartnerx", m.referralNote, m.reason}
}

// fileEverything writes a complete appeal of person through Apply (with a
// draft left in the session and a message echoing the person's answers),
// a follow-up with a file, and staff's handling: a status change with a
// reason, a reply, a note and a referral. It returns the reference.
func fileEverything(tb testing.TB, s *store.Store, person int64, staff migrantbot.Staff) string {
	tb.Helper()
	ctx := context.Background()
	m := marked
	a := migrantbot.Appeal{
		UserID: person, ChatID: person, Language: "en", ConsentAt: time.Now(), ConsentVersion: "v1",
		Surname: m.surname, FirstName: m.firstName, Patronymic: m.patronymic, Citizenship: "UZ", Country: "AZ",
		City: m.city, Address: m.address, Category: "labour", Authority: m.authority, When: migrantbot.WhenThisMonth,
		Description: m.description, Phone: m.phone, Email: m.email,
		Attachments: []migrantbot.Attachment{{FileID: "file-1", FileUniqueID: "u-1", Kind: "document", Size: 10,
			FileName: m.fileName, MimeType: "application/pdf", Caption: m.caption}},
	}
	var ref string
	apply(tb, s, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		var err error
		if ref, err = rec.NextReference(); err != nil {
			return migrantbot.Turn{}, err
		}
		a.Reference = ref
		sess.State, sess.Lang = "appeal.surname", "en"
		// A second appeal is being drafted.
		sess.Draft = &migrantbot.Appeal{Surname: m.draftName, Description: m.draftName}
		return migrantbot.Turn{Session: sess, Submit: &a, Messages: []migrantbot.Message{{Text: m.botMessage}}}, nil
	})
	apply(tb, s, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
		return migrantbot.Turn{Session: sess, FollowUps: []migrantbot.FollowUp{
			{Reference: ref, Text: m.followUp},
			{Reference: ref, File: &migrantbot.Attachment{FileID: "file-2", FileUniqueID: "u-2", Kind: "photo", Caption: m.followUpCaption}},
		}}, nil
	})
	must(tb, "ChangeStatus", s.ChangeStatus(ctx, staff, ref, migrantbot.StatusInReview, m.reason, &migrantbot.Message{Text: "in review"}))
	must(tb, "Reply", s.Reply(ctx, staff, ref, m.reply, migrantbot.Message{Text: m.reply}))
	must(tb, "AddNote", s.AddNote(ctx, staff, ref, m.note))
	must(tb, "Refer", s.Refer(ctx, staff, ref, migrantbot.Referral{Partner: "ngo", Name: m.partner, Date: time.Now(), Note: m.referralNote}))
	return ref
}

// column is one column of a table.
type column struct{ table, name, dataType string }

// allColumns lists every column of every table of the public schema.
func allColumns(tb testing.TB, s *store.Store) []column {
	tb.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' ORDER BY 1, 2`)
	must(tb, "list columns", err)
	cols, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (column, error) {
		var c column
		err := row.Scan(&c.table, &c.name, &c.dataType)
		return c, err
	})
	must(tb, "list columns", err)
	if len(cols) < 20 {
		tb.Fatalf("found %d columns, the schema has more", len(cols))
	}
	return cols
}

// findInRows returns "table.column" of every text, JSON, bytea, array or
// tsvector column of every table whose raw value holds one of values,
// whatever the case.
func findInRows(tb testing.TB, s *store.Store, values []string) []string {
	tb.Helper()
	var found []string
	for _, c := range allColumns(tb, s) {
		switch c.dataType {
		case "text", "character varying", "jsonb", "json", "bytea", "ARRAY", "tsvector", "USER-DEFINED":
		default:
			continue
		}
		expr := pgx.Identifier{c.name}.Sanitize() + "::text"
		if c.dataType == "bytea" {
			expr = "convert_from(" + pgx.Identifier{c.name}.Sanitize() + ", 'SQL_ASCII')"
		}
		for _, v := range values {
			n := count(tb, s, `SELECT count(*) FROM `+pgx.Identifier{c.table}.Sanitize()+` WHERE `+expr+` ILIKE '%' || $1 || '%'`, v)
			if n > 0 {
				found = append(found, c.table+"."+c.name+" holds "+v)
			}
		}
	}
	return found
}

func TestPersonalDataSealedAtRest(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	anna := newStaff(t, s, "anna@ombudsman.example", migrantbot.RoleAdmin)
	ref := fileEverything(t, s, 77, anna)

	if found := findInRows(t, s, markedValues()); len(found) > 0 {
		t.Errorf("plain personal data in the database:\n%s", strings.Join(found, "\n"))
	}
	// The check can fail: a plain value written by hand is found.
	exec(t, s, `INSERT INTO audit_log (actor, action, detail) VALUES ('x', 'y', 'QMARKCANARYX')`)
	if found := findInRows(t, s, []string{"qmarkcanaryx"}); len(found) != 1 {
		t.Errorf("a plain value written by hand: found %v, want it in audit_log.detail", found)
	}

	// Reads give the plain text back.
	m := marked
	d, err := s.AppealDetail(ctx, ref)
	must(t, "AppealDetail", err)
	a := d.Appeal
	for _, f := range []struct{ got, want string }{
		{a.Surname, m.surname}, {a.FirstName, m.firstName}, {a.Patronymic, m.patronymic}, {a.City, m.city},
		{a.Address, m.address}, {a.Authority, m.authority}, {a.Description, m.description}, {a.Phone, m.phone},
		{a.Email, m.email}, {a.Citizenship, "UZ"}, {a.Category, "labour"},
	} {
		if f.got != f.want {
			t.Errorf("appeal field: got %q, want %q", f.got, f.want)
		}
	}
	if len(a.Attachments) != 1 || a.Attachments[0].Caption != m.caption || a.Attachments[0].FileName != m.fileName {
		t.Errorf("attachments: got %+v, want caption %q and name %q", a.Attachments, m.caption, m.fileName)
	}
	var texts []string
	var fileCaption string
	for _, e := range d.Thread {
		texts = append(texts, e.Text)
		if e.Attachment != nil {
			fileCaption = e.Attachment.Caption
		}
	}
	for _, want := range []string{m.followUp, m.reason, m.reply, m.note, m.partner} {
		if !slices.Contains(texts, want) {
			t.Errorf("thread texts %q lack %q", texts, want)
		}
	}
	if fileCaption != m.followUpCaption {
		t.Errorf("follow-up file caption: got %q, want %q", fileCaption, m.followUpCaption)
	}
	if len(d.Referrals) != 1 || d.Referrals[0].Name != m.partner || d.Referrals[0].Note != m.referralNote {
		t.Errorf("referrals: got %+v", d.Referrals)
	}
	sess, err := s.Session(ctx, 77)
	must(t, "Session", err)
	if sess.Draft == nil || sess.Draft.Surname != m.draftName || sess.State != "appeal.surname" {
		t.Errorf("session: got %+v, want the draft of %q", sess, m.draftName)
	}
	exec(t, s, `UPDATE outbox SET next_attempt_at = now()`)
	var messages []string
	for _, o := range mustDue(t, s, 10) {
		messages = append(messages, o.Message.Text)
	}
	for _, want := range []string{m.botMessage, m.reply} {
		if !slices.Contains(messages, want) {
			t.Errorf("due messages %q lack %q", messages, want)
		}
	}
	var exported []migrantbot.Appeal
	must(t, "ExportAppeals", s.ExportAppeals(ctx, migrantbot.AppealFilter{}, func(a migrantbot.Appeal, _ string) error {
		exported = append(exported, a)
		return nil
	}))
	if len(exported) != 1 || exported[0].Surname != m.surname || exported[0].Phone != m.phone {
		t.Errorf("export: got %+v", exported)
	}
	page, err := s.ListAppeals(ctx, migrantbot.AppealFilter{})
	must(t, "ListAppeals", err)
	if len(page.Rows) != 1 || page.Rows[0].Surname != m.surname || page.Rows[0].FirstName != m.firstName {
		t.Errorf("list: got %+v", page.Rows)
	}
}

func TestOpenNeedsKeys(t *testing.T) {
	url := storetest.NewDatabase(t)
	s, err := store.Open(t.Context(), url, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open without keys: got a store, want an error")
	}
	if !strings.Contains(err.Error(), "DATA_KEY") {
		t.Errorf("Open without keys: got %q, want it to name DATA_KEY", err)
	}
}

func TestSearchSealed(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	ism := submit(t, s, migrantbot.Appeal{UserID: 1, Surname: "İSMAYILOV", FirstName: "Rəşad", Category: "labour",
		Description: "The employer kept my passport for three months"})
	iva := submit(t, s, migrantbot.Appeal{UserID: 2, Surname: "Иванов", FirstName: "Пётр", Patronymic: "Qarabağ-li", Category: "labour",
		Description: "Задержали на границе, паспорт забрали"})
	tests := []struct {
		query string
		want  []string
	}{
		{"ismayılov", []string{ism}},
		{"Ismayilov rəşad", []string{ism}},
		{"PASSPORT", []string{ism}},
		{"passport months", []string{ism}},
		{"паспорт", []string{iva}},
		{"иванов задержали", []string{iva}},
		{"qarabağ", []string{iva}},
		{"Qarabağ-li", []string{iva}},
		{"passport паспорт", nil},
		{"pass", nil}, // prefixes of words are not found
		{"xyzzy", nil},
		{"!!!", nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			page, err := s.ListAppeals(ctx, migrantbot.AppealFilter{Query: tc.query})
			must(t, "ListAppeals", err)
			if got := refsOf(page.Rows); !slices.Equal(got, tc.want) {
				t.Errorf("ListAppeals(%q): got %v, want %v", tc.query, got, tc.want)
			}
			total := 0
			for _, n := range page.Counts {
				total += n
			}
			if total != len(tc.want) {
				t.Errorf("ListAppeals(%q) counts: got %v (total %d), want total %d", tc.query, page.Counts, total, len(tc.want))
			}
		})
	}
	// The index holds tokens, not words.
	if found := findInRows(t, s, []string{"ismayilov", "passport", "иванов"}); len(found) > 0 {
		t.Errorf("plain words in the database: %v", found)
	}
}

// ringOf makes a keyring from raw keys.
func ringOf(tb testing.TB, current []byte, previous ...[]byte) *sealed.Keyring {
	tb.Helper()
	k, err := sealed.New(current, previous...)
	if err != nil {
		tb.Fatalf("keyring: %v", err)
	}
	return k
}

func rawKey(tb testing.TB) []byte {
	tb.Helper()
	s, err := sealed.NewKey()
	must(tb, "NewKey", err)
	b, err := base64.StdEncoding.DecodeString(s)
	must(tb, "decode key", err)
	return b
}

func TestRotation(t *testing.T) {
	ctx := t.Context()
	url := storetest.NewDatabase(t)
	oldKey, newKey := rawKey(t), rawKey(t)
	old := storetest.OpenStore(t, url, ringOf(t, oldKey))
	anna := newStaff(t, old, "anna@ombudsman.example", migrantbot.RoleAdmin)
	ref := fileEverything(t, old, 77, anna)
	// Rows written before encryption: plain values, a plain session and
	// message, and no search tokens.
	exec(t, old, `INSERT INTO appeals (reference, user_id, chat_id, surname, first_name, description, phone)
		VALUES ('AP-2020-000001', 5, 5, 'Legacyov', 'Oldname', 'plain story of Legacyov', '+994 55 000')`)
	exec(t, old, `INSERT INTO thread_entries (appeal_id, kind, text) SELECT id, 'migrant', 'legacy follow-up' FROM appeals WHERE reference = 'AP-2020-000001'`)
	exec(t, old, `INSERT INTO sessions (chat_id, user_id, state, lang, data) VALUES (5, 5, 'menu', 'ru', '{"state": "menu", "lang": "ru", "draft": {"surname": "Legacydraft"}}')`)
	exec(t, old, `INSERT INTO outbox (chat_id, payload, sent_at) VALUES (5, '{"text": "legacy message"}', now())`)
	exec(t, old, `UPDATE staff SET totp_secret = 'JBSWY3DPEHPK3PXP' WHERE id = $1`, anna.ID)

	rotating := storetest.OpenStore(t, url, ringOf(t, newKey, oldKey))
	// While a rotation is due, search finds rows under both keys.
	page, err := rotating.ListAppeals(ctx, migrantbot.AppealFilter{Query: marked.surname})
	must(t, "ListAppeals before rotation", err)
	if got := refsOf(page.Rows); !slices.Equal(got, []string{ref}) {
		t.Errorf("search under the previous key: got %v, want [%s]", got, ref)
	}
	counts, err := rotating.Rotate(ctx)
	must(t, "Rotate", err)
	rotated := map[string]int{}
	for _, c := range counts {
		rotated[c.Table] = c.Rows
	}
	for table, want := range map[string]int{"appeals": 2, "attachments": 1, "referrals": 1, "sessions": 2, "staff": 1} {
		if rotated[table] != want {
			t.Errorf("rows re-sealed in %s: got %d, want %d", table, rotated[table], want)
		}
	}
	// Thread: follow-up text and file, status, reply, note, referral, the
	// legacy entry. Outbox: the bot's message, the status and reply
	// messages, the legacy one.
	wantAtLeast := map[string]int{"thread_entries": 7, "outbox": 4}
	for table, n := range wantAtLeast {
		if rotated[table] < n {
			t.Errorf("rows re-sealed in %s: got %d, want at least %d", table, rotated[table], n)
		}
	}
	again, err := rotating.Rotate(ctx)
	must(t, "Rotate again", err)
	for _, c := range again {
		if c.Rows != 0 {
			t.Errorf("second rotation re-sealed %d rows of %s, want none", c.Rows, c.Table)
		}
	}
	if len(again) != len(counts) {
		t.Errorf("second rotation reported %d tables, want %d", len(again), len(counts))
	}

	// Nothing is left under the old key, nor plain.
	oldID := sealed.KeyID(oldKey)
	if found := findInRows(t, rotating, append(markedValues(), "enc:v1:"+oldID+":", "Legacyov", "Oldname", "Legacydraft",
		"legacy message", "legacy follow-up", "JBSWY3DPEHPK3PXP")); len(found) > 0 {
		t.Errorf("after rotation:\n%s", strings.Join(found, "\n"))
	}

	// The old key can be dropped: a store with the new key alone reads it all.
	fresh := storetest.OpenStore(t, url, ringOf(t, newKey))
	d, err := fresh.AppealDetail(ctx, ref)
	must(t, "AppealDetail with the new key", err)
	if d.Appeal.Surname != marked.surname || d.Appeal.Description != marked.description || len(d.Thread) < 6 ||
		d.Referrals[0].Note != marked.referralNote || d.Appeal.Attachments[0].Caption != marked.caption {
		t.Errorf("appeal with the new key: got %+v", d)
	}
	legacy, err := fresh.AppealDetail(ctx, "AP-2020-000001")
	must(t, "legacy AppealDetail", err)
	if legacy.Appeal.Surname != "Legacyov" || legacy.Appeal.Phone != "+994 55 000" || len(legacy.Thread) != 1 ||
		legacy.Thread[0].Text != "legacy follow-up" {
		t.Errorf("legacy appeal with the new key: got %+v", legacy)
	}
	sess, err := fresh.Session(ctx, 5)
	must(t, "legacy session", err)
	if sess.Draft == nil || sess.Draft.Surname != "Legacydraft" {
		t.Errorf("legacy session: got %+v", sess)
	}
	if _, err := fresh.Session(ctx, 77); err != nil {
		t.Errorf("session with the new key: %v", err)
	}
	for _, q := range []struct{ query, want string }{{"legacyov", "AP-2020-000001"}, {"story", "AP-2020-000001"}, {marked.firstName, ref}} {
		page, err := fresh.ListAppeals(ctx, migrantbot.AppealFilter{Query: q.query})
		must(t, "ListAppeals", err)
		if got := refsOf(page.Rows); !slices.Equal(got, []string{q.want}) {
			t.Errorf("search %q after rotation: got %v, want [%s]", q.query, got, q.want)
		}
		if n := page.Counts[migrantbot.StatusNew] + page.Counts[migrantbot.StatusInReview]; n != 1 {
			t.Errorf("search %q after rotation: counts %v, want 1 in all", q.query, page.Counts)
		}
	}
	var secret *string
	must(t, "totp secret", fresh.Pool().QueryRow(ctx, `SELECT totp_secret FROM staff WHERE id = $1`, anna.ID).Scan(&secret))
	if secret == nil || !strings.HasPrefix(*secret, "enc:v1:"+sealed.KeyID(newKey)+":") {
		t.Errorf("totp secret after rotation: got %v, want it sealed under the new key", secret)
	}

	// A store without the new key cannot read the data: it fails, and its
	// error holds no personal value.
	_, err = storetest.OpenStore(t, url, ringOf(t, oldKey)).AppealDetail(ctx, ref)
	if err == nil {
		t.Fatal("AppealDetail with the old key alone: got no error")
	}
	for _, v := range markedValues() {
		if strings.Contains(err.Error(), v) {
			t.Errorf("error %q holds %q", err, v)
		}
	}
}

// TestRotationBesideTraffic rotates while people keep writing: nothing is
// lost or left under the old key, and the counts of the search index stay
// exact.
func TestRotationBesideTraffic(t *testing.T) {
	ctx := t.Context()
	url := storetest.NewDatabase(t)
	oldKey, newKey := rawKey(t), rawKey(t)
	old := storetest.OpenStore(t, url, ringOf(t, oldKey))
	const people = 250 // several batches of the rotation
	for i := int64(1); i <= people; i++ {
		submit(t, old, migrantbot.Appeal{UserID: i, Surname: "Surname" + strconv.FormatInt(i, 10), FirstName: "Common",
			Category: "labour", Description: "words of appeal " + strconv.FormatInt(i, 10)})
	}
	// Every instance now runs with the new key and the old one.
	rotating := storetest.OpenStore(t, url, ringOf(t, newKey, oldKey))
	var (
		wg      sync.WaitGroup
		applied atomic.Int64
		failed  atomic.Value
	)
	for w := range 4 {
		wg.Go(func() {
			for i := range 40 {
				person := int64(1 + (w*40+i)%people)
				_, err := rotating.Apply(ctx, migrantbot.Update{ChatID: person, UserID: person}, func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
					sess.State = "menu"
					sess.Draft = &migrantbot.Appeal{Surname: "Draft" + strconv.FormatInt(person, 10)}
					return migrantbot.Turn{Session: sess, Messages: []migrantbot.Message{{Text: "hello"}}}, nil
				})
				if err != nil {
					failed.Store(err)
					return
				}
				applied.Add(1)
			}
		})
	}
	counts, err := rotating.Rotate(ctx)
	wg.Wait()
	must(t, "Rotate beside traffic", err)
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("Apply beside the rotation: %v", err)
	}
	if counts[0].Table != "appeals" || counts[0].Rows != people {
		t.Errorf("appeals re-sealed: got %+v, want %d", counts[0], people)
	}
	again, err := rotating.Rotate(ctx)
	must(t, "Rotate again", err)
	for _, c := range again {
		if c.Rows != 0 {
			t.Errorf("second rotation re-sealed %d rows of %s, want none", c.Rows, c.Table)
		}
	}
	if n := count(t, rotating, `SELECT count(*) FROM sessions WHERE state = 'menu'`); n == 0 || n > applied.Load() {
		t.Errorf("sessions moved to menu: got %d, want between 1 and %d", n, applied.Load())
	}
	// The trigger kept the counts of every token exact.
	words := count(t, rotating, `SELECT coalesce(sum(n), 0) FROM appeal_word_counts`)
	tokens := count(t, rotating, `SELECT count(*) FROM appeals, unnest(tsvector_to_array(search))`)
	if words != tokens || tokens < people*4 {
		t.Errorf("word counts: %d counted, %d tokens in the appeals (want equal, at least %d)", words, tokens, people*4)
	}
	fresh := storetest.OpenStore(t, url, ringOf(t, newKey))
	for i := int64(1); i <= people; i++ {
		if _, err := fresh.Session(ctx, i); err != nil {
			t.Fatalf("session %d with the new key alone: %v", i, err)
		}
	}
	page, err := fresh.ListAppeals(ctx, migrantbot.AppealFilter{Query: "common"})
	must(t, "ListAppeals", err)
	if page.Counts[migrantbot.StatusNew] != people {
		t.Errorf("search for a word every appeal has: counted %d, want %d", page.Counts[migrantbot.StatusNew], people)
	}
	page, err = fresh.ListAppeals(ctx, migrantbot.AppealFilter{Query: "surname17"})
	must(t, "ListAppeals", err)
	if len(page.Rows) != 1 || page.Rows[0].Surname != "Surname17" {
		t.Errorf("search for one surname: got %+v", page.Rows)
	}
}
