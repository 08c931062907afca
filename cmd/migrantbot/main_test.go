package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

const token = "123456:TEST-token"

// server is a running `migrantbot serve` against the Bot API double.
type server struct {
	tb     testing.TB
	tg     *telegramtest.Server
	dbURL  string
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
	// staffAddr is where the staff console listens.
	staffAddr string
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `serve` against tg and the database at dbURL until stopped.
// extra are more variables as name, value pairs, overriding the defaults.
func startServe(tb testing.TB, tg *telegramtest.Server, dbURL string, extra ...string) *server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &server{tb: tb, tg: tg, dbURL: dbURL, cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	env := map[string]string{"DATABASE_URL": dbURL, "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": tg.URL, "LOG_LEVEL": "debug",
		"STAFF_ADDR": freeAddr(tb), "DATA_KEY": storetest.DataKey(tb),
		// The double is local: Telegram's one message a second per chat would
		// only slow the tests, which fire updates with no pause.
		"TELEGRAM_CHAT_RATE": "1000", "TELEGRAM_RATE": "1000",
		// Tests walk whole dialogs in a second; the limit has its own test.
		"PERSON_UPDATE_LIMIT": "off"}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	b.staffAddr = env["STAFF_ADDR"]
	go func() {
		b.done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, b.logs)
	}()
	tb.Cleanup(func() { b.stop() })
	return b
}

// stop stops serve the way SIGINT does and checks that it exits cleanly.
func (b *server) stop() {
	b.tb.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			b.tb.Errorf("serve exited with %v; logs:\n%s", err, b.logs)
		}
	case <-time.After(20 * time.Second):
		b.tb.Fatalf("serve did not stop within 20s")
	}
}

// person is someone writing to the bot through the double.
type person struct {
	tb       testing.TB
	tg       *telegramtest.Server
	u        telegramtest.User
	seen     int             // bot messages already looked at
	latency  []time.Duration // per update, from sending to the bot's commit
	lastSent []telegramtest.Sent
}

func newPerson(tb testing.TB, tg *telegramtest.Server, id int64, lang string) *person {
	return &person{tb: tb, tg: tg, u: telegramtest.User{ID: id, FirstName: "Test", LanguageCode: lang}}
}

// await waits until the bot committed update id, and returns the bot
// messages it sent since the last call. Each input must get an answer.
func (p *person) await(id int64) []telegramtest.Sent {
	p.tb.Helper()
	start := time.Now()
	p.tg.WaitOffset(p.tb, id+1, 15*time.Second)
	p.latency = append(p.latency, time.Since(start))
	msgs := p.tg.Messages(p.u.ID)
	if len(msgs) <= p.seen {
		// An answer may be an edit of the pressed message.
		p.lastSent = msgs[max(len(msgs)-1, 0):]
		return p.lastSent
	}
	p.lastSent = msgs[p.seen:]
	p.seen = len(msgs)
	return p.lastSent
}

func (p *person) text(s string) []telegramtest.Sent {
	p.tb.Helper()
	return p.await(p.tg.SendText(p.u, s))
}

// press presses the newest button with the given callback data.
func (p *person) press(data string) []telegramtest.Sent {
	p.tb.Helper()
	return p.pressMatching(data, func(d string) bool { return d == data })
}

// pressStarting presses the newest button whose callback data starts with
// prefix, for buttons that carry a time.
func (p *person) pressStarting(prefix string) []telegramtest.Sent {
	p.tb.Helper()
	return p.pressMatching(prefix+"…", func(d string) bool { return strings.HasPrefix(d, prefix) })
}

func (p *person) pressMatching(what string, match func(data string) bool) []telegramtest.Sent {
	p.tb.Helper()
	msgs := p.tg.Messages(p.u.ID)
	for i := len(msgs) - 1; i >= 0; i-- {
		for _, row := range msgs[i].Buttons {
			for _, b := range row {
				if match(b.Data) {
					return p.await(p.tg.PressData(p.u, msgs[i].MessageID, b.Data))
				}
			}
		}
	}
	p.tb.Fatalf("no button %q in chat %d; last messages: %v", what, p.u.ID, plain(p.lastSent))
	return nil
}

func plain(msgs []telegramtest.Sent) []string {
	var s []string
	for _, m := range msgs {
		s = append(s, m.Plain)
	}
	return s
}

// wantSaid checks that one of the last messages contains want.
func (p *person) wantSaid(want string) {
	p.tb.Helper()
	for _, m := range p.lastSent {
		if strings.Contains(m.Plain, want) {
			return
		}
	}
	p.tb.Fatalf("bot did not say %q; it said %q", want, plain(p.lastSent))
}

// wantButton checks that the last messages offer a button with data.
func (p *person) wantButton(data string) {
	p.tb.Helper()
	for _, m := range p.lastSent {
		for _, row := range m.Buttons {
			for _, b := range row {
				if b.Data == data {
					return
				}
			}
		}
	}
	p.tb.Fatalf("no button %q; bot said %q", data, plain(p.lastSent))
}

// beginAppeal goes from a new chat to the first question of an appeal.
func (p *person) beginAppeal(lang string) {
	p.tb.Helper()
	p.text("/start")
	p.press("l:" + lang)
	p.press("m:appeal")
	p.press("a:consent:yes")
}

// fileAppeal goes from a new chat to a submitted appeal and returns its reference.
func (p *person) fileAppeal(lang string) string {
	p.tb.Helper()
	p.beginAppeal(lang)
	p.text("Mammadov")
	p.text("Elchin")
	p.text("Rashid oglu")
	p.press("a:citizenship:c:UZ")
	p.press("a:country:c:AZ")
	p.text("Baku")
	p.text("<b>Nizami</b> & 28 May street 5")
	p.press("a:category:c:detention")
	p.text("Police station No. 9")
	p.text("05.10.2026")
	p.text("I was held for two days without being told why.")
	p.text("Nobody called an interpreter.")
	p.press("a:description:continue")
	p.await(p.tg.SendPhoto(p.u, "decision", "album1"))
	p.await(p.tg.SendPhoto(p.u, "", "album1"))
	p.await(p.tg.SendDocument(p.u, "contract.pdf", "application/pdf", 120000, "contract"))
	p.press("a:attachments:done")
	p.await(p.tg.SendContact(p.u, "994501234567", true))
	p.text("elchin@example.org")
	p.wantSaid("<b>Nizami</b> & 28 May street 5") // shown back escaped, seen as typed
	p.press("a:review:submit")
	for _, m := range p.lastSent {
		if i := strings.Index(m.Plain, "AP-"); i >= 0 && len(m.Plain) >= i+14 {
			return m.Plain[i : i+14]
		}
	}
	p.tb.Fatalf("no reference in the confirmation: %q", plain(p.lastSent))
	return ""
}

// markedAppeal is what fileMarked types into an appeal, field by field:
// tests put values in it that they then look for (or must not find).
type markedAppeal struct {
	Surname, FirstName, Patronymic, City, Address, Authority, Description string
	PhotoCaption                                                          string
	DocName, DocCaption                                                   string // no document when DocName is ""
	// SharedPhone is shared with the button; TypedPhone is typed at the
	// question or, after a shared one, typed instead of it from the review.
	SharedPhone, TypedPhone string
	Email                   string
	FollowUp                string // added from My appeals after submitting, when set
}

// fileMarked files an English appeal with the values of m and, when set,
// its follow-up; it returns the reference.
func (p *person) fileMarked(m markedAppeal) string {
	p.tb.Helper()
	p.beginAppeal("en")
	p.text(m.Surname)
	p.text(m.FirstName)
	p.text(m.Patronymic)
	p.press("a:citizenship:c:UZ")
	p.press("a:country:c:AZ")
	p.text(m.City)
	p.text(m.Address)
	p.press("a:category:c:detention")
	p.text(m.Authority)
	p.text("05.10.2026")
	p.text(m.Description)
	p.press("a:description:continue")
	p.await(p.tg.SendPhoto(p.u, m.PhotoCaption, ""))
	if m.DocName != "" {
		p.await(p.tg.SendDocument(p.u, m.DocName, "application/pdf", 120000, m.DocCaption))
	}
	p.press("a:attachments:done")
	if m.SharedPhone != "" {
		p.await(p.tg.SendContact(p.u, m.SharedPhone, true))
	} else {
		p.text(m.TypedPhone)
	}
	p.text(m.Email)
	if m.SharedPhone != "" && m.TypedPhone != "" {
		p.press("a:review:edit:phone")
		p.text(m.TypedPhone)
	}
	p.wantButton("a:review:submit")
	p.press("a:review:submit")
	ref := regexp.MustCompile(`AP-\d{4}-\d{6}`).FindString(strings.Join(plain(p.lastSent), "\n"))
	if ref == "" {
		p.tb.Fatalf("no reference after submitting: %q", plain(p.lastSent))
	}
	if m.FollowUp != "" {
		p.text("/status")
		p.press("v:" + ref)
		p.press("v:" + ref + ":add")
		p.text(m.FollowUp)
	}
	return ref
}

// checkTelegramRules fails the test when the bot made a request Telegram refuses
// or left a callback query unanswered.
func checkTelegramRules(tb testing.TB, tg *telegramtest.Server) {
	tb.Helper()
	for _, c := range tg.Rejected() {
		tb.Errorf("Telegram would refuse %s: %d %s", c.Method, c.Code, c.Description)
	}
	if un := tg.UnansweredCallbacks(); len(un) > 0 {
		tb.Errorf("unanswered callback queries: %v", un)
	}
}

func openStore(tb testing.TB, url string) *store.Store {
	tb.Helper()
	st, err := store.Open(context.Background(), url, nil, store.WithKeys(storetest.Keys(tb)))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(st.Close)
	return st
}

func countAppeals(tb testing.TB, st *store.Store) int {
	tb.Helper()
	var n int
	if err := st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM appeals").Scan(&n); err != nil {
		tb.Fatalf("count appeals: %v", err)
	}
	return n
}

func TestAppealInEachLanguage(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	st := openStore(t, url)
	var latency []time.Duration
	for i, lang := range []string{"en", "az", "ru"} {
		p := newPerson(t, tg, int64(1000+i), lang)
		ref := p.fileAppeal(lang)
		latency = append(latency, p.latency...)
		a, err := st.Appeal(context.Background(), ref)
		if err != nil {
			t.Fatalf("%s: appeal %s: %v", lang, ref, err)
		}
		want := migrantbot.Appeal{Surname: "Mammadov", FirstName: "Elchin", Patronymic: "Rashid oglu", Citizenship: "UZ",
			Country: "AZ", City: "Baku", Address: "<b>Nizami</b> & 28 May street 5", Category: "detention",
			Authority: "Police station No. 9", When: "2026-10-05", Phone: "+994501234567", Email: "elchin@example.org"}
		got := a
		got.Reference, got.UserID, got.ChatID, got.Language, got.Status, got.ConsentAt, got.ConsentVersion = "", 0, 0, "", "", time.Time{}, ""
		got.Description, got.PhoneShared, got.Attachments, got.SubmittedAt, got.OverOneYear = "", false, nil, time.Time{}, false
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: saved appeal\n got %+v\nwant %+v", lang, got, want)
		}
		if a.Language != lang || a.Status != migrantbot.StatusNew || a.UserID != p.u.ID || !a.PhoneShared || a.ConsentAt.IsZero() {
			t.Errorf("%s: language %q, status %q, user %d, shared %v, consent %v", lang, a.Language, a.Status, a.UserID, a.PhoneShared, a.ConsentAt)
		}
		if want := "I was held for two days without being told why.\n\nNobody called an interpreter."; a.Description != want {
			t.Errorf("%s: description %q, want %q", lang, a.Description, want)
		}
		if len(a.Attachments) != 3 || a.Attachments[2].FileName != "contract.pdf" || a.Attachments[0].Kind != "photo" {
			t.Errorf("%s: attachments %+v", lang, a.Attachments)
		}
		// My appeals lists it.
		p.text("/status")
		p.wantSaid(ref)
	}
	checkTelegramRules(t, tg)
	if cmds := tg.Commands("", "ru"); len(cmds) != 9 {
		t.Errorf("setMyCommands for ru: got %d commands, want 9", len(cmds))
	}
	slices.Sort(latency)
	t.Logf("per update, from sending to commit: median %v, p90 %v, max %v over %d updates",
		latency[len(latency)/2], latency[len(latency)*9/10], latency[len(latency)-1], len(latency))
}

func TestConsentDeclinedStoresNothing(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	srv := startServe(t, tg, url)
	waitHealthy(t, "http://"+srv.staffAddr)
	resp, err := http.Get("http://" + srv.staffAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz: %d, want 200 (database reachable, migrations current)", resp.StatusCode)
	}
	p := newPerson(t, tg, 77, "en")
	p.text("/start")
	p.press("l:en")
	p.press("m:appeal")
	p.press("a:consent:no")
	p.wantButton("m:appeal")
	st := openStore(t, url)
	if n := countAppeals(t, st); n != 0 {
		t.Errorf("appeals: got %d, want 0", n)
	}
	s, err := st.Session(context.Background(), 77)
	if err != nil {
		t.Fatal(err)
	}
	if s.Draft != nil {
		t.Errorf("draft kept after declining: %+v", s.Draft)
	}
	checkTelegramRules(t, tg)
}

func TestRestartResumesAtTheSameQuestion(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	b := startServe(t, tg, url)
	p := newPerson(t, tg, 88, "ru")
	p.beginAppeal("ru")
	p.text("Иванов")
	p.text("Иван")
	p.wantButton("a:patronymic:none")
	b.stop()

	// While the bot is down the person answers; the update waits at Telegram.
	id := tg.SendText(p.u, "Иванович")
	startServe(t, tg, url)
	p.await(id)
	p.wantButton("a:citizenship:c:UZ")
	st := openStore(t, url)
	s, err := st.Session(context.Background(), 88)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "citizenship" || s.Draft.Surname != "Иванов" || s.Draft.Patronymic != "Иванович" {
		t.Errorf("after restart: state %q, draft %+v", s.State, s.Draft)
	}
	checkTelegramRules(t, tg)
}

func TestSameUpdateTwiceMakesOneAppeal(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	p := newPerson(t, tg, 99, "en")
	p.beginAppeal("en")
	for _, s := range []string{"Smith", "John"} {
		p.text(s)
	}
	p.press("a:patronymic:none")
	p.press("a:citizenship:c:IN")
	p.press("a:country:c:AZ")
	p.text("Ganja")
	p.text("Ataturk avenue 10")
	p.press("a:category:c:labour")
	p.press("a:authority:skip")
	p.press("a:when:c:this_month")
	p.text("My employer keeps my passport and does not pay.")
	p.press("a:description:continue")
	p.press("a:attachments:done")
	p.text("+994 55 555 55 55")
	p.press("a:email:skip")

	msgs := tg.Messages(p.u.ID)
	review := msgs[len(msgs)-1].MessageID
	submit := tg.PressData(p.u, review, "a:review:submit")
	double := tg.PressData(p.u, review, "a:review:submit") // a double tap
	p.await(double)
	tg.Redeliver(submit) // Telegram delivers the first tap again
	p.await(submit)
	time.Sleep(200 * time.Millisecond)

	st := openStore(t, url)
	if n := countAppeals(t, st); n != 1 {
		t.Errorf("appeals: got %d, want 1", n)
	}
	checkTelegramRules(t, tg)
}

func TestEveryInputGetsAnAnswer(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	p := newPerson(t, tg, 55, "az")
	p.beginAppeal("en")
	p.text("Aliyeva")
	oldMenu := tg.Messages(p.u.ID)[1].MessageID
	tests := []struct {
		name string
		send func() int64
		want string
	}{
		{"sticker", func() int64 { return tg.SendSticker(p.u) }, "cannot read voice messages"},
		{"voice", func() int64 { return tg.SendVoice(p.u) }, "cannot read voice messages"},
		{"location", func() int64 { return tg.SendLocation(p.u) }, "cannot read voice messages"},
		{"edited message", func() int64 { return tg.EditText(p.u, 1, "changed") }, "do not see changes"},
		{"unknown command", func() int64 { return tg.SendText(p.u, "/whatever") }, "do not know this command"},
		{"too long", func() int64 { return tg.SendText(p.u, strings.Repeat("Ab", 2000)) }, "too long"},
		{"digits in a name", func() int64 { return tg.SendText(p.u, "12345") }, "letters only"},
		{"stale button", func() int64 { return tg.PressData(p.u, oldMenu, "a:review:submit") }, "earlier message"},
		{"language button from an old message", func() int64 { return tg.PressData(p.u, 2, "l:ru") }, "earlier message"},
		{"help mid-appeal", func() int64 { return tg.SendText(p.u, "/help") }, "first name"},
		{"photo before its question", func() int64 { return tg.SendPhoto(p.u, "", "") }, "file is added"},
		{"group chat", func() int64 { return tg.SendGroupText(-100123, p.u, "hello") }, "şəxsi çat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.send()
			if tc.name == "group chat" {
				tg.WaitOffset(t, id+1, 15*time.Second)
				msgs := tg.Messages(-100123)
				if len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1].Plain, tc.want) {
					t.Fatalf("group: got %q", plain(msgs))
				}
				return
			}
			p.tb = t
			p.await(id)
			p.wantSaid(tc.want)
		})
	}
	p.tb = t
	// The draft survived all of it.
	st := openStore(t, url)
	s, err := st.Session(context.Background(), 55)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "first_name" || s.Draft.Surname != "Aliyeva" || len(s.Draft.Attachments) != 1 {
		t.Errorf("state %q, draft %+v", s.State, s.Draft)
	}
	checkTelegramRules(t, tg)
}

func TestServeNeedsItsConfiguration(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "no command"},
		{"unknown command", []string{"fly"}, nil, "unknown command"},
		{"serve without database", []string{"serve"}, map[string]string{"TELEGRAM_BOT_TOKEN": token}, "DATABASE_URL is not set"},
		{"serve without token", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x@/y"}, "TELEGRAM_BOT_TOKEN is not set"},
		{"migrate without database", []string{"migrate"}, nil, "DATABASE_URL is not set"},
		{"bad log level", []string{"serve"}, map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "TEST-token") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestMigrateTwice(t *testing.T) {
	url := storetest.NewEmptyDatabase(t)
	env := func(k string) string { return map[string]string{"DATABASE_URL": url}[k] }
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"migrate"}, env, strings.NewReader(""), &out, io.Discard); err != nil {
			t.Fatalf("migrate %d: %v", i, err)
		}
	}
	current, err := store.MigrationsCurrent(context.Background(), url)
	if err != nil || !current {
		t.Errorf("migrations current: %v, %v", current, err)
	}
}

func TestServeRefusesAnOldSchema(t *testing.T) {
	url := storetest.NewEmptyDatabase(t)
	env := map[string]string{"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_URL": "http://127.0.0.1:1", "DATA_KEY": storetest.DataKey(t)}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Errorf("got %v, want an error naming migrate", err)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStaffAndExportCommands(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	p := newPerson(t, tg, 31, "az")
	ref := p.fileAppeal("az")

	env := func(k string) string {
		return map[string]string{"DATABASE_URL": url, "DATA_KEY": storetest.DataKey(t)}[k]
	}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), args, env, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	out, err := cli("staff", "add", "--email", "Aysel@Ombudsman.az", "--role", "reviewer")
	if err != nil || !strings.Contains(out, "one-time password: ") {
		t.Fatalf("staff add: %v\n%s", err, out)
	}
	if _, err := cli("staff", "add", "--email", "aysel@ombudsman.az", "--role", "reviewer"); migrantbot.ErrorCode(err) != migrantbot.ECONFLICT {
		t.Errorf("adding the same e-mail again: got %v, want a conflict", err)
	}
	if _, err := cli("staff", "add", "--email", "x@y.az", "--role", "king"); err == nil {
		t.Errorf("an unknown role was accepted")
	}
	if _, err := cli("staff", "disable", "--email", "aysel@ombudsman.az"); err != nil {
		t.Fatal(err)
	}
	out, err = cli("staff", "list")
	if err != nil || !strings.Contains(out, "disabled") || !strings.Contains(strings.ToLower(out), "aysel@ombudsman.az") {
		t.Errorf("staff list: %v\n%s", err, out)
	}
	out, err = cli("export", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "\ufeff") || !strings.Contains(out, ref) || !strings.Contains(out, "Mammadov") {
		t.Errorf("export: want a BOM and the appeal %s:\n%.300s", ref, out)
	}
	if _, err := cli("export", "--format", "xlsx"); err == nil {
		t.Errorf("export --format xlsx was accepted")
	}
	entries, err := openStore(t, url).ListAudit(context.Background(), "cli", "", "", 10)
	if err != nil || len(entries) < 3 {
		t.Errorf("audit of the commands: %v, %+v", err, entries)
	}
}
