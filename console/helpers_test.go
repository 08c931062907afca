package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// testNotifier renders the messages to people in a form the tests can find
// in the outbox. The dialogs' real Notifier is tested with the dialogs.
type testNotifier struct{}

func (testNotifier) StatusChanged(lang, ref string, status migrantbot.Status, reason string) migrantbot.Message {
	return migrantbot.Message{Text: fmt.Sprintf("[%s] %s is now %s: %s", lang, ref, status, reason)}
}

func (testNotifier) Reply(lang, ref, text string) migrantbot.Message {
	return migrantbot.Message{Text: fmt.Sprintf("[%s] reply on %s: %s", lang, ref, text)}
}

// memFiles is a FileSource holding files in memory; it counts the opens.
type memFiles struct {
	mu    sync.Mutex
	files map[string]memFile
	opens int
}

type memFile struct {
	data []byte
	typ  string
}

func (m *memFiles) OpenFile(_ context.Context, fileID string) (io.ReadCloser, string, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opens++
	f, ok := m.files[fileID]
	if !ok {
		return nil, "", 0, migrantbot.Errorf(migrantbot.ENOTFOUND, "file %s", fileID)
	}
	return io.NopCloser(bytes.NewReader(f.data)), f.typ, int64(len(f.data)), nil
}

// lockedBuffer collects the console's log lines from concurrent requests.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a console served over HTTP on a fresh real database.
type env struct {
	store *store.Store
	srv   *httptest.Server
	files *memFiles
	logs  *lockedBuffer
	app   *app
	chats atomic.Int64
}

// newEnv starts a console on a fresh database; deps, when given, adjusts its
// dependencies.
func newEnv(tb testing.TB, adjust ...func(*Deps)) *env {
	tb.Helper()
	e := &env{
		store: storetest.NewStore(tb),
		files: &memFiles{files: map[string]memFile{}},
		logs:  &lockedBuffer{},
	}
	deps := Deps{
		Store: e.store, Notifier: testNotifier{}, Files: e.files,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range adjust {
		f(&deps)
	}
	var err error
	if e.app, err = newApp(withDefaults(deps)); err != nil {
		tb.Fatalf("newApp: %v", err)
	}
	e.srv = httptest.NewServer(New(deps))
	tb.Cleanup(e.srv.Close)
	e.chats.Store(5000)
	return e
}

// withDefaults fills in what New fills in, for tests that use app directly.
func withDefaults(d Deps) Deps {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Location == nil {
		d.Location = time.FixedZone("AZT", 4*60*60)
	}
	return d
}

// addStaff creates an account with a known password.
func (e *env) addStaff(tb testing.TB, email string, role migrantbot.Role, password string, mustChange bool) migrantbot.Staff {
	tb.Helper()
	hash, err := HashPassword(password)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := e.store.CreateStaff(context.Background(), email, role, hash, mustChange)
	if err != nil {
		tb.Fatalf("CreateStaff %s: %v", email, err)
	}
	return s
}

// submit files an appeal through the store's unit of work, as the dialogs
// do, and returns its reference.
func (e *env) submit(tb testing.TB, a migrantbot.Appeal) string {
	tb.Helper()
	chat := e.chats.Add(1)
	if a.Language == "" {
		a.Language = "en"
	}
	if a.Category == "" {
		a.Category = "labour"
	}
	if a.ConsentAt.IsZero() {
		a.ConsentAt = time.Now()
		a.ConsentVersion = "2026-01"
	}
	var ref string
	_, err := e.store.Apply(context.Background(), migrantbot.Update{ID: chat, ChatID: chat, UserID: chat},
		func(s migrantbot.Session, rec migrantbot.Records) (migrantbot.Turn, error) {
			var err error
			if ref, err = rec.NextReference(); err != nil {
				return migrantbot.Turn{}, err
			}
			a.Reference, a.UserID, a.ChatID = ref, chat, chat
			s.Lang, s.State = a.Language, "menu"
			return migrantbot.Turn{Session: s, Submit: &a}, nil
		})
	if err != nil {
		tb.Fatalf("submit appeal: %v", err)
	}
	if !a.SubmittedAt.IsZero() {
		// The store stamps a submission with the database's clock and has
		// no method to change it; tests of dates move it here.
		if _, err := e.store.Pool().Exec(context.Background(),
			`UPDATE appeals SET submitted_at = $2 WHERE reference = $1`, ref, a.SubmittedAt); err != nil {
			tb.Fatalf("set submitted_at: %v", err)
		}
	}
	return ref
}

// browser is a client with its own cookies that does not follow redirects,
// so that tests see each 303.
type browser struct {
	tb     testing.TB
	e      *env
	client *http.Client
	csrf   string // the token of the last page that had forms
}

func (e *env) browser(tb testing.TB) *browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &browser{tb: tb, e: e, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is a finished request.
type response struct {
	status   int
	header   http.Header
	body     string
	location string
}

var csrfPattern = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) response {
	b.tb.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.tb.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	if m := csrfPattern.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return response{status: res.StatusCode, header: res.Header, body: string(body), location: res.Header.Get("Location")}
}

func (b *browser) get(path string) response {
	b.tb.Helper()
	req, err := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	if err != nil {
		b.tb.Fatal(err)
	}
	return b.do(req)
}

// post sends a form with the CSRF token of the last page.
func (b *browser) post(path string, form url.Values) response {
	b.tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	return b.postRaw(path, form)
}

// postRaw sends a form as it is.
func (b *browser) postRaw(path string, form url.Values) response {
	b.tb.Helper()
	req, err := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// login fills in the login form and returns the answer to it.
func (b *browser) login(email, password string) response {
	b.tb.Helper()
	if r := b.get("/login"); r.status != http.StatusOK {
		b.tb.Fatalf("GET /login: status %d", r.status)
	}
	return b.post("/login", url.Values{"email": {email}, "password": {password}})
}

// loggedIn returns a browser logged in as a new account of the role.
func (e *env) loggedIn(tb testing.TB, email string, role migrantbot.Role) (*browser, migrantbot.Staff) {
	tb.Helper()
	const password = "correct horse battery staple"
	s := e.addStaff(tb, email, role, password, false)
	b := e.browser(tb)
	if r := b.login(email, password); r.status != http.StatusSeeOther {
		tb.Fatalf("login %s: status %d, want 303\n%s", email, r.status, r.body)
	}
	if r := b.get("/appeals"); r.status != http.StatusOK {
		tb.Fatalf("GET /appeals after login: status %d", r.status)
	}
	return b, s
}

func wantStatus(tb testing.TB, what string, r response, want int) {
	tb.Helper()
	if r.status != want {
		tb.Fatalf("%s: status %d, want %d (location %q)\n%.2000s", what, r.status, want, r.location, r.body)
	}
}

func wantRedirect(tb testing.TB, what string, r response, prefix string) {
	tb.Helper()
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, prefix) {
		tb.Fatalf("%s: status %d location %q, want 303 to %s…\n%.1000s", what, r.status, r.location, prefix, r.body)
	}
}

// auditCount counts the audit entries of an action on a target.
func (e *env) auditCount(tb testing.TB, actor, action, target string) int {
	tb.Helper()
	entries, err := e.store.ListAudit(context.Background(), actor, action, target, 1000)
	if err != nil {
		tb.Fatalf("ListAudit: %v", err)
	}
	return len(entries)
}

// outboxTexts returns the texts queued for a chat, oldest first.
func (e *env) outboxTexts(tb testing.TB, chatID int64) []string {
	tb.Helper()
	// The payload is sealed at rest: open it with the tests' data key.
	keys := storetest.Keys(tb)
	rows, err := e.store.Pool().Query(context.Background(),
		`SELECT payload FROM outbox WHERE chat_id = $1 ORDER BY id`, chatID)
	if err != nil {
		tb.Fatalf("outbox: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var stored []byte
		if err := rows.Scan(&stored); err != nil {
			tb.Fatal(err)
		}
		doc, err := keys.OpenJSON(stored)
		if err != nil {
			tb.Fatalf("outbox: open payload: %v", err)
		}
		var m struct{ Text string }
		if err := json.Unmarshal(doc, &m); err != nil {
			tb.Fatalf("outbox: payload: %v", err)
		}
		out = append(out, m.Text)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func (e *env) detail(tb testing.TB, ref string) migrantbot.AppealDetail {
	tb.Helper()
	d, err := e.store.AppealDetail(context.Background(), ref)
	if err != nil {
		tb.Fatalf("AppealDetail %s: %v", ref, err)
	}
	return d
}
