package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"migrantbot"
	"migrantbot/bot/telegramtest"
	"migrantbot/sealed"
	"migrantbot/store/storetest"
)

// marks are the personal values of one test person, each unique enough to
// be found anywhere it was stored.
type marks struct {
	Surname, First, Patronymic, City, Address, Authority, Description, Caption, FileName, Phone, Email, FollowUp string
}

func marksFor(tag, digits string) marks {
	return marks{
		Surname: tag + "surname", First: tag + "first", Patronymic: tag + "patronymic", City: tag + "city",
		Address: tag + "address 5", Authority: tag + "authority office",
		Description: "Held for two days without a reason, " + tag + "description.",
		Caption:     tag + "caption", FileName: tag + "contract.pdf", Phone: "+99455" + digits + "70123",
		Email: tag + "@example.org", FollowUp: "One more thing: " + tag + "followup",
	}
}

func (m marks) all() []string {
	return []string{m.Surname, m.First, m.Patronymic, m.City, m.Address, m.Authority, m.Description,
		m.Caption, m.FileName, m.Phone, m.Email, m.FollowUp}
}

// file files m's appeal with its follow-up and returns the reference.
func (m marks) file(p *person) string {
	p.tb.Helper()
	ref := p.fileMarked(markedAppeal{
		Surname: m.Surname, FirstName: m.First, Patronymic: m.Patronymic, City: m.City, Address: m.Address,
		Authority: m.Authority, Description: m.Description, PhotoCaption: m.Caption, DocName: m.FileName,
		TypedPhone: m.Phone, Email: m.Email, FollowUp: m.FollowUp,
	})
	p.text("/menu")
	return ref
}

var sealedValue = regexp.MustCompile(regexp.QuoteMeta(sealed.Prefix) + `[0-9a-f]+:[A-Za-z0-9_-]+`)

// databaseText returns every row of every table of the database as JSON,
// with each sealed value replaced by its plain text: what someone holding
// the data key could read. Tests look in it for values that must be gone.
func databaseText(tb testing.TB, url string, keys *sealed.Keyring) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	tables, err := pgx.CollectRows(must(conn.Query(ctx,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)),
		pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	if len(tables) < 10 {
		tb.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := pgx.CollectRows(must(conn.Query(ctx, `SELECT row_to_json(t)::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)),
			pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("read %s: %v", table, err)
		}
		for _, r := range rows {
			b.WriteString(table + ": ")
			b.WriteString(sealedValue.ReplaceAllStringFunc(r, func(v string) string {
				plain, err := keys.Open(v)
				if err != nil {
					tb.Errorf("table %s holds a value the key cannot open: %v", table, err)
				}
				// Unescape what JSON escaped, so that marks are found as typed.
				var s string
				if json.Unmarshal([]byte(`"`+plain+`"`), &s) == nil {
					return s
				}
				return plain
			}))
			b.WriteString("\n")
		}
	}
	return b.String()
}

func must(rows pgx.Rows, err error) pgx.Rows {
	if err != nil {
		panic(err)
	}
	return rows
}

func TestMyDataAndForgetMe(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	st := openStore(t, url)
	keys := storetest.Keys(t)

	me, other := marksFor("zqme", "41"), marksFor("zqot", "42")
	p := newPerson(t, tg, 9301, "en")
	ref := me.file(p)
	q := newPerson(t, tg, 9302, "en")
	otherRef := other.file(q)
	// A second appeal of p, closed: erasure covers it too, without telling staff.
	p.text("/start")
	p.press("l:en")
	closedRef := p.fileAppeal("en")
	staff, err := st.CreateStaff(t.Context(), "reviewer@example.org", migrantbot.RoleReviewer, "x", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ChangeStatus(t.Context(), staff, closedRef, migrantbot.StatusInReview, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := st.ChangeStatus(t.Context(), staff, closedRef, migrantbot.StatusClosed, "", nil); err != nil {
		t.Fatal(err)
	}
	// Something stored now stays once the other appeal is gone; its marks must be found before.
	before := databaseText(t, url, keys)
	for _, v := range append(me.all(), other.all()...) {
		if !strings.Contains(before, v) {
			t.Fatalf("the scan does not find %q before erasure: it could not fail", v)
		}
	}

	// /mydata: everything about p, nothing about q.
	p.text("/mydata")
	var doc *telegramtest.Document
	for _, s := range p.lastSent {
		if s.Document != nil {
			doc = s.Document
		}
	}
	if doc == nil {
		t.Fatalf("/mydata sent no file; said %q", plain(p.lastSent))
	}
	p.wantSaid("Appeals: 2")
	for _, v := range me.all() {
		if v == me.FileName {
			continue // checked below: file names are in the file's JSON
		}
		if !strings.Contains(string(doc.Data), jsonText(v)) {
			t.Errorf("/mydata misses %q", v)
		}
	}
	if !strings.Contains(string(doc.Data), me.FileName) || !strings.Contains(string(doc.Data), ref) || !strings.Contains(string(doc.Data), closedRef) {
		t.Errorf("/mydata misses the file name or a reference:\n%s", doc.Data)
	}
	for _, v := range append(other.all(), otherRef) {
		if strings.Contains(string(doc.Data), jsonText(v)) {
			t.Errorf("/mydata holds %q of another person", v)
		}
	}
	if !json.Valid(doc.Data) {
		t.Errorf("the file is not valid JSON")
	}

	// /forgetme asks first, then erases.
	p.text("/forgetme")
	p.wantSaid("Erase your personal data?")
	p.pressStarting("p:forget:yes:")
	p.wantSaid("Your personal data has been erased")

	after := databaseText(t, url, keys)
	for _, v := range me.all() {
		for _, line := range strings.Split(after, "\n") {
			if strings.Contains(line, v) {
				t.Errorf("%q is still stored after /forgetme: %.300s", v, line)
			}
		}
	}
	for _, v := range other.all() {
		if !strings.Contains(after, v) {
			t.Errorf("another person's %q was erased", v)
		}
	}
	// The keyed tokens of the erased words are gone from the word counts.
	var zero int
	if err := st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM appeal_word_counts WHERE n = 0`).Scan(&zero); err != nil {
		t.Fatal(err)
	}
	if zero != 0 {
		t.Errorf("%d word counts left at zero after erasure", zero)
	}
	// Staff are told on the open appeal, not on the closed one; both are audited.
	d, err := st.AppealDetail(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HasNews || len(d.Thread) == 0 || d.Thread[len(d.Thread)-1].Kind != migrantbot.EntryErasure {
		t.Errorf("the open appeal does not tell staff of the erasure: news %v, thread %+v", d.HasNews, d.Thread)
	}
	if d.Appeal.Category != "detention" || d.Appeal.Country != "AZ" || d.Appeal.Status != migrantbot.StatusNew {
		t.Errorf("what statistics count was erased too: %+v", d.Appeal)
	}
	closed, err := st.AppealDetail(t.Context(), closedRef)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range closed.Thread {
		if e.Kind == migrantbot.EntryErasure {
			t.Errorf("a closed appeal got an erasure entry")
		}
	}
	if closed.Appeal.UserID != 0 || closed.Appeal.ChatID != 0 || d.Appeal.ChatID != p.u.ID {
		t.Errorf("after erasure the closed appeal is linked to user %d, chat %d, and the open one to chat %d; want 0, 0 and the person's",
			closed.Appeal.UserID, closed.Appeal.ChatID, d.Appeal.ChatID)
	}
	audits, err := st.ListAudit(t.Context(), "", "appeal.erasure", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(audits) != 2 {
		t.Errorf("%d erasure audit entries, want 2 (one per appeal)", len(audits))
	}
	// A new appeal asks for consent again.
	p.press("m:appeal")
	p.wantButton("a:consent:yes")
	checkTelegramRules(t, tg)
}

// jsonText is s as encoding/json writes it inside a string.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
