// Package telegramtest is a local Telegram Bot API for tests: an httptest
// server that speaks the Bot API's JSON envelope, serves queued updates to
// long polling, records every call, and refuses what Telegram refuses (text
// over 4096 characters, malformed HTML, callback data over 64 bytes, answers
// to unknown callback queries...) with Telegram's descriptions.
//
// Tests drive it as the people in the chats: SendText, Press, SendContact,
// SendPhoto... and read what the bot did with Messages, WaitMessages, Calls
// and Rejected. It also serves the files of those updates, as getFile and
// the /file/bot<token>/<path> download (SetFile gives a file the test's own
// content), and fails on demand: FailNext for the next calls of a method,
// Block for a person who blocked the bot, Down and Up for an outage.
// It is meant to be used through the real client library, so a test proves
// what the bot would do against Telegram.
package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The bot the server pretends to be.
const (
	BotID       int64 = 7000000001
	BotUsername       = "migrant_test_bot"
)

// Call is one request the bot made, with the answer the server gave.
type Call struct {
	Method string
	// Params holds the request's parameters as Telegram reads them: form
	// values as sent, and for JSON bodies strings unquoted and any other value
	// as its JSON text (reply_markup, commands...).
	Params map[string]string
	// Code is 200 for a successful call, else the error code answered.
	Code        int
	Description string
	// Injected is true for failures the test asked for (FailNext, Block),
	// which are not the bot's fault and do not count as rejected.
	Injected bool
	At       time.Time

	benign bool // a refusal a correct bot meets in normal work
}

// OK reports whether the call succeeded.
func (c Call) OK() bool { return c.Code == http.StatusOK }

// Button is an inline button of a message the bot sent.
type Button struct {
	Text string
	Data string // callback data; "" for a URL button
	URL  string
}

// Sent is a message the bot sent, as it stands after any edits.
type Sent struct {
	MessageID int
	ChatID    int64
	// Text is the text as the bot sent it (raw HTML with parse_mode=HTML).
	Text      string
	ParseMode string
	// Plain is the text as the person sees it, after Telegram parsed the
	// entities and trimmed the white space around it.
	Plain    string
	Entities []Entity
	Buttons  [][]Button
	// ContactButton is the label of a reply keyboard button that shares the
	// person's phone number, "" when the message showed none.
	ContactButton   string
	ResizeKeyboard  bool
	OneTimeKeyboard bool
	RemoveKeyboard  bool
	// Edits counts the successful edits of the message.
	Edits int
	// Document is the file of a sendDocument, nil for a text message;
	// Text, Plain and Entities are then its caption.
	Document *Document

	inlineJSON string // canonical inline keyboard, to detect unmodified edits
}

// HasButton reports whether the message carries an inline button with the
// callback data.
func (m Sent) HasButton(data string) bool {
	for _, row := range m.Buttons {
		for _, b := range row {
			if b.Data == data {
				return true
			}
		}
	}
	return false
}

// Document is a file the bot uploaded with sendDocument.
type Document struct {
	FileName string
	Data     []byte
}

// BotCommand is a command registered with setMyCommands.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// Server is a local Bot API. All its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give the bot as TELEGRAM_API_URL: the bot calls
	// URL + "/bot" + token + "/" + method.
	URL string
	// Token is the only token the server accepts.
	Token string

	tb      testing.TB
	srv     *httptest.Server
	closing chan struct{}

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every change
	done       bool
	nextUpdate int64
	queue      []*queued
	updates    map[int64]json.RawMessage
	offset     int64
	pollGen    int64
	msgSeq     map[int64]int
	chats      map[int64]map[string]any
	sent       map[int64][]*Sent
	userMsgs   map[int64]map[int]bool
	events     map[int64]int
	callbacks  map[string]*callbackState
	cbOrder    []string
	cbByUpdate map[int64]string
	cbSeq      int
	calls      []Call
	faults     map[string][]fault
	down       *fault // set while Down: every call fails so
	blocked    map[int64]bool
	commands   map[string][]BotCommand
	fileSeq    int
	files      map[string]fileInfo
	hook       webhookState // setWebhook and the push delivery (webhook.go)
}

type queued struct {
	id          int64
	raw         json.RawMessage
	redelivered bool
	sent        bool
}

type callbackState struct {
	answered bool
	text     string
	// deliveries counts how often getUpdates handed out its update: a bot
	// that crashed before confirming it gets it again and, unable to know
	// it answered already, answers again (Telegram refuses that; it harms nobody).
	deliveries int
}

type fault struct {
	code       int
	retryAfter int
}

// apiError is a refusal in Telegram's words.
type apiError struct {
	code        int
	description string
	retryAfter  int
	injected    bool
	// benign refusals are the answers a correct bot meets in normal work
	// ("message is not modified", a getUpdates conflict); they are recorded
	// but not counted as rejected.
	benign bool
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, description: "Bad Request: " + fmt.Sprintf(format, args...)}
}

// New starts a Bot API server for the test; it is closed in tb.Cleanup.
func New(tb testing.TB, token string) *Server {
	tb.Helper()
	return start(tb, token, httptest.NewUnstartedServer(nil))
}

// NewListener is New on a listener the test chose, for tests that must start
// the bot before its API is reachable (the listener's address is known in
// advance).
func NewListener(tb testing.TB, token string, l net.Listener) *Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Listener = l
	return start(tb, token, srv)
}

func start(tb testing.TB, token string, srv *httptest.Server) *Server {
	s := &Server{
		Token:      token,
		tb:         tb,
		srv:        srv,
		closing:    make(chan struct{}),
		changed:    make(chan struct{}),
		nextUpdate: 1001,
		updates:    map[int64]json.RawMessage{},
		msgSeq:     map[int64]int{},
		chats:      map[int64]map[string]any{},
		sent:       map[int64][]*Sent{},
		userMsgs:   map[int64]map[int]bool{},
		events:     map[int64]int{},
		callbacks:  map[string]*callbackState{},
		cbByUpdate: map[int64]string{},
		faults:     map[string][]fault{},
		blocked:    map[int64]bool{},
		commands:   map[string][]BotCommand{},
		files:      map[string]fileInfo{},
	}
	srv.Config.Handler = http.HandlerFunc(s.serveHTTP)
	srv.Start()
	s.URL = srv.URL
	tb.Cleanup(func() {
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
		close(s.closing) // wakes long polls, which Close would wait for
		srv.Close()
	})
	return s
}

// broadcast wakes every waiter; s.mu must be held.
func (s *Server) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// methods maps the lower-case method name (Telegram ignores case) to the
// canonical name and its implementation.
var methods = map[string]struct {
	name string
	fn   func(s *Server, ctx context.Context, p map[string]string) (any, *apiError)
}{
	"getme":                  {"getMe", (*Server).getMe},
	"getupdates":             {"getUpdates", (*Server).getUpdates},
	"sendmessage":            {"sendMessage", (*Server).sendMessage},
	"senddocument":           {"sendDocument", (*Server).sendDocument},
	"editmessagetext":        {"editMessageText", (*Server).editMessageText},
	"editmessagereplymarkup": {"editMessageReplyMarkup", (*Server).editMessageReplyMarkup},
	"answercallbackquery":    {"answerCallbackQuery", (*Server).answerCallbackQuery},
	"setmycommands":          {"setMyCommands", (*Server).setMyCommands},
	"deletemycommands":       {"deleteMyCommands", (*Server).deleteMyCommands},
	"getmycommands":          {"getMyCommands", (*Server).getMyCommands},
	"deletewebhook":          {"deleteWebhook", (*Server).deleteWebhook},
	"getwebhookinfo":         {"getWebhookInfo", (*Server).getWebhookInfo},
	"setwebhook":             {"setWebhook", (*Server).setWebhook},
	"sendchataction":         {"sendChatAction", (*Server).sendChatAction},
	"getfile":                {"getFile", (*Server).getFile},
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"); ok {
		s.serveFile(w, r, rest)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	params, perr := parseParams(r)
	if !ok || !ok2 || method == "" {
		s.finish(w, Call{Method: r.URL.Path, Params: params}, nil, &apiError{code: http.StatusNotFound, description: "Not Found"})
		return
	}
	call := Call{Method: method, Params: params}
	if token != s.Token {
		s.finish(w, call, nil, &apiError{code: http.StatusUnauthorized, description: "Unauthorized"})
		return
	}
	m, known := methods[strings.ToLower(method)]
	if !known {
		s.mu.Lock()
		if !s.done {
			s.tb.Errorf("telegramtest: the bot called %q, which this double does not expect", method)
		}
		s.mu.Unlock()
		s.finish(w, call, nil, &apiError{code: http.StatusNotFound, description: "Not Found: method not found"})
		return
	}
	call.Method = m.name
	if f, ok := s.takeFault(m.name); ok {
		if f.code == 0 {
			s.record(call, nil)
			dropConnection(w)
			return
		}
		s.finish(w, call, nil, injectedError(f))
		return
	}
	if perr != nil {
		s.finish(w, call, nil, perr)
		return
	}
	result, aerr := m.fn(s, r.Context(), params)
	if aerr == nil && result == nil {
		return // the client went away during a long poll: nothing to answer
	}
	s.finish(w, call, result, aerr)
}

func (s *Server) finish(w http.ResponseWriter, call Call, result any, aerr *apiError) {
	s.record(call, aerr)
	w.Header().Set("Content-Type", "application/json")
	if aerr != nil {
		body := map[string]any{"ok": false, "error_code": aerr.code, "description": aerr.description}
		if aerr.retryAfter > 0 {
			body["parameters"] = map[string]any{"retry_after": aerr.retryAfter}
		}
		w.WriteHeader(aerr.code)
		_ = json.NewEncoder(w).Encode(body)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func (s *Server) record(call Call, aerr *apiError) {
	call.Code, call.At = http.StatusOK, time.Now()
	if aerr != nil {
		call.Code, call.Description = aerr.code, aerr.description
		call.Injected, call.benign = aerr.injected, aerr.benign
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.broadcast()
	s.mu.Unlock()
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("telegramtest: cannot drop the connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func injectedError(f fault) *apiError {
	e := &apiError{code: f.code, retryAfter: f.retryAfter, injected: true}
	switch {
	case f.code == http.StatusTooManyRequests:
		if e.retryAfter <= 0 {
			e.retryAfter = 1
		}
		e.description = fmt.Sprintf("Too Many Requests: retry after %d", e.retryAfter)
	case f.code == http.StatusForbidden:
		e.description = "Forbidden: bot was blocked by the user"
	case f.code == http.StatusConflict:
		e.description = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
	case f.code == http.StatusBadRequest:
		e.description = "Bad Request: injected failure"
	default:
		e.description = http.StatusText(f.code)
	}
	return e
}

// parseParams reads a request's parameters from its query, form,
// multipart or JSON body, as the Bot API accepts all of them.
func parseParams(r *http.Request) (map[string]string, *apiError) {
	p := map[string]string{}
	for k, v := range r.URL.Query() {
		p[k] = v[0]
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var body map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return p, badRequest("can't parse JSON request body")
		}
		for k, v := range body {
			var str string
			if json.Unmarshal(v, &str) == nil {
				p[k] = str
			} else {
				p[k] = string(v)
			}
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(10 << 20); err != nil {
			return p, badRequest("can't parse multipart request body")
		}
		for k, v := range r.MultipartForm.Value {
			p[k] = v[0]
		}
		// An uploaded file's content goes in under its field's name, and
		// its file name under name + "#filename".
		for k, fhs := range r.MultipartForm.File {
			f, err := fhs[0].Open()
			if err != nil {
				return p, badRequest("can't read uploaded file")
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return p, badRequest("can't read uploaded file")
			}
			p[k], p[k+"#filename"] = string(data), fhs[0].Filename
		}
	default:
		if err := r.ParseForm(); err != nil {
			return p, badRequest("can't parse request body")
		}
		for k, v := range r.PostForm {
			p[k] = v[0]
		}
	}
	return p, nil
}

// FailNext makes the next n calls of method fail with code: 429 answers
// "Too Many Requests" with parameters.retry_after = retryAfter, 5xx answers a
// server error, 403 "bot was blocked by the user", and code 0 drops the
// connection without an answer (a network failure).
func (s *Server) FailNext(method string, n int, code int, retryAfter int) {
	name := method
	if m, ok := methods[strings.ToLower(method)]; ok {
		name = m.name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults[name] = append(s.faults[name], fault{code: code, retryAfter: retryAfter})
	}
}

func (s *Server) takeFault(method string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down != nil {
		return *s.down, true
	}
	fs := s.faults[method]
	if len(fs) == 0 {
		return fault{}, false
	}
	s.faults[method] = fs[1:]
	return fs[0], true
}

// Down makes every call (file downloads included) fail with code until Up,
// as when Telegram or the way to it is down: code 0 drops the connection
// without an answer, 502 answers Bad Gateway, and so on, as with FailNext.
// The failures are recorded as injected.
func (s *Server) Down(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = &fault{code: code}
	s.broadcast()
}

// Up ends Down.
func (s *Server) Up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = nil
	s.broadcast()
}

// Block makes every message to chatID fail with 403, as when the person has
// blocked the bot; Unblock ends it.
func (s *Server) Block(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[chatID] = true
}

// Unblock lets messages reach chatID again.
func (s *Server) Unblock(chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, chatID)
}

// Calls returns the calls of method (every call when method is ""), in order.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || strings.EqualFold(c.Method, method) {
			out = append(out, c)
		}
	}
	return out
}

// Rejected returns the calls Telegram would have refused because of what the
// bot sent: invalid text, markup, ids, unknown methods, wrong token. Failures
// the test injected and the refusals a correct bot meets in normal work
// ("message is not modified", getUpdates conflicts, files too big to
// download) are not included.
func (s *Server) Rejected() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if !c.OK() && !c.Injected && !c.benign {
			out = append(out, c)
		}
	}
	return out
}

// Pending returns how many updates the bot has not yet confirmed with a
// getUpdates offset.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Offset returns the highest offset the bot has passed to getUpdates: every
// update with a lower id is confirmed.
func (s *Server) Offset() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.offset
}

// Messages returns the bot's messages in chatID in the order they were sent,
// as they stand after edits.
func (s *Server) Messages(chatID int64) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messagesLocked(chatID)
}

func (s *Server) messagesLocked(chatID int64) []Sent {
	out := make([]Sent, 0, len(s.sent[chatID]))
	for _, m := range s.sent[chatID] {
		c := *m
		c.Buttons = nil
		for _, row := range m.Buttons {
			c.Buttons = append(c.Buttons, append([]Button(nil), row...))
		}
		c.Entities = append([]Entity(nil), m.Entities...)
		out = append(out, c)
	}
	return out
}

// waitFor blocks until cond (called with s.mu held) is true or timeout
// passes, and reports whether cond became true.
func (s *Server) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			return cond()
		}
	}
}

// WaitMessages waits until the bot has sent at least n messages to chatID and
// returns them; on timeout it fails the test with what it has. Call it from
// the test's goroutine.
func (s *Server) WaitMessages(tb testing.TB, chatID int64, n int, timeout time.Duration) []Sent {
	tb.Helper()
	if !s.waitFor(timeout, func() bool { return len(s.sent[chatID]) >= n }) {
		tb.Fatalf("telegramtest: chat %d: got %d bot messages after %v, want %d:\n%s", chatID, len(s.Messages(chatID)), timeout, n, describe(s.Messages(chatID)))
	}
	return s.Messages(chatID)
}

// WaitEvents waits until the bot has sent or edited messages in chatID at
// least n times in all, and returns the chat's messages; on timeout it fails
// the test. Call it from the test's goroutine.
func (s *Server) WaitEvents(tb testing.TB, chatID int64, n int, timeout time.Duration) []Sent {
	tb.Helper()
	if !s.waitFor(timeout, func() bool { return s.events[chatID] >= n }) {
		s.mu.Lock()
		got := s.events[chatID]
		s.mu.Unlock()
		tb.Fatalf("telegramtest: chat %d: got %d sends and edits after %v, want %d:\n%s", chatID, got, timeout, n, describe(s.Messages(chatID)))
	}
	return s.Messages(chatID)
}

// WaitCalls waits until method has been called at least n times and returns
// its calls; on timeout it fails the test. Call it from the test's goroutine.
func (s *Server) WaitCalls(tb testing.TB, method string, n int, timeout time.Duration) []Call {
	tb.Helper()
	count := func() int {
		k := 0
		for _, c := range s.calls {
			if strings.EqualFold(c.Method, method) {
				k++
			}
		}
		return k
	}
	if !s.waitFor(timeout, func() bool { return count() >= n }) {
		tb.Fatalf("telegramtest: got %d calls of %s after %v, want %d", len(s.Calls(method)), method, timeout, n)
	}
	return s.Calls(method)
}

// WaitOffset waits until the bot has confirmed every update below offset
// (passed an offset of at least offset to getUpdates); on timeout it fails
// the test. Call it from the test's goroutine.
func (s *Server) WaitOffset(tb testing.TB, offset int64, timeout time.Duration) {
	tb.Helper()
	if !s.waitFor(timeout, func() bool { return s.offset >= offset }) {
		tb.Fatalf("telegramtest: offset is %d after %v, want at least %d", s.Offset(), timeout, offset)
	}
}

// UnansweredCallbacks returns the ids of the callback queries the bot has not
// answered, in the order they were made.
func (s *Server) UnansweredCallbacks() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range s.cbOrder {
		if !s.callbacks[id].answered {
			out = append(out, id)
		}
	}
	return out
}

// CallbackAnswer returns the text the bot answered the callback query of
// update updateID with, and whether it answered it.
func (s *Server) CallbackAnswer(updateID int64) (text string, answered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.callbacks[s.cbByUpdate[updateID]]
	if !ok {
		return "", false
	}
	return cb.text, cb.answered
}

// Commands returns the commands set for a scope type ("default",
// "all_private_chats"...) and language code ("" for all languages).
func (s *Server) Commands(scope, lang string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand(nil), s.commands[commandsKey(scope, 0, 0, lang)]...)
}

// Update returns the JSON of an update the server enqueued.
func (s *Server) Update(id int64) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.updates[id]
}

func describe(msgs []Sent) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "  #%d (edits %d): %q", m.MessageID, m.Edits, m.Plain)
		if len(m.Buttons) > 0 {
			fmt.Fprintf(&b, " buttons %v", m.Buttons)
		}
		b.WriteByte('\n')
	}
	if b.Len() == 0 {
		return "  (none)"
	}
	return b.String()
}

func parseInt(p map[string]string, name string) (int64, bool) {
	v, ok := p[name]
	if !ok || v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

func sortQueue(q []*queued) {
	sort.SliceStable(q, func(i, j int) bool { return q[i].id < q[j].id })
}
