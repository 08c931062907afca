package telegramtest_test

import (
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot/bot/telegramtest"
)

const token = "123456:TEST-token"

var alice = telegramtest.User{ID: 501, FirstName: "Alice", LanguageCode: "en"}

// newClient starts a server and connects the real client library to it.
func newClient(t *testing.T) (*telegramtest.Server, *tgbotapi.BotAPI) {
	t.Helper()
	s := telegramtest.New(t, token)
	api, err := tgbotapi.NewBotAPIWithAPIEndpoint(token, s.URL+"/bot%s/%s")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if api.Self.UserName != telegramtest.BotUsername {
		t.Fatalf("getMe username = %q, want %q", api.Self.UserName, telegramtest.BotUsername)
	}
	return s, api
}

// apiError returns the Bot API error in err, failing the test when there is
// none.
func apiError(t *testing.T, err error) *tgbotapi.Error {
	t.Helper()
	var e *tgbotapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *tgbotapi.Error", err)
	}
	return e
}

func TestSendMessageLimits(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		parseMode string
		wantErr   string
	}{
		{name: "4096 characters", text: strings.Repeat("a", 4096)},
		{name: "4097 characters", text: strings.Repeat("a", 4097), wantErr: "Bad Request: message is too long"},
		{name: "entities count once", text: strings.Repeat("&lt;", 4096), parseMode: "HTML"},
		{name: "tags do not count", text: "<b>" + strings.Repeat("a", 4096) + "</b>", parseMode: "HTML"},
		{name: "entities over the limit", text: strings.Repeat("&amp;", 4097), parseMode: "HTML", wantErr: "Bad Request: message is too long"},
		{name: "emoji are two units", text: strings.Repeat("😀", 2048)},
		{name: "emoji over the limit", text: strings.Repeat("😀", 2048) + "a", wantErr: "Bad Request: message is too long"},
		{name: "cyrillic is one unit", text: strings.Repeat("ж", 4096)},
		{name: "white space is trimmed", text: "\n\n" + strings.Repeat("a", 4096) + "\n\n"},
		{name: "empty", text: "", wantErr: "Bad Request: message text is empty"},
		{name: "only white space", text: " \n ", wantErr: "Bad Request: message text is empty"},
		{name: "only tags", text: "<b></b>", parseMode: "HTML", wantErr: "Bad Request: message text is empty"},
		{name: "malformed HTML", text: "1 < 2", parseMode: "HTML", wantErr: "Bad Request: can't parse entities: Unsupported start tag"},
		{name: "unescaped ampersand", text: "A & B", parseMode: "HTML", wantErr: "Bad Request: can't parse entities: Character '&' is reserved"},
		{name: "angle brackets without parse mode", text: "1 < 2 & 3"},
		{name: "invalid UTF-8", text: "a\xffb", wantErr: "Bad Request: text must be encoded in UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, api := newClient(t)
			msg := tgbotapi.NewMessage(alice.ID, tc.text)
			msg.ParseMode = tc.parseMode
			_, err := api.Send(msg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				if got := s.Rejected(); len(got) != 0 {
					t.Errorf("rejected = %+v, want none", got)
				}
				if got := s.Messages(alice.ID); len(got) != 1 {
					t.Errorf("got %d messages, want 1", len(got))
				}
				return
			}
			e := apiError(t, err)
			if e.Code != 400 || !strings.HasPrefix(e.Message, tc.wantErr) {
				t.Errorf("error = %d %q, want 400 %q", e.Code, e.Message, tc.wantErr)
			}
			if got := s.Rejected(); len(got) != 1 || got[0].Method != "sendMessage" {
				t.Errorf("rejected = %+v, want the one sendMessage", got)
			}
			if got := s.Messages(alice.ID); len(got) != 0 {
				t.Errorf("got %d messages, want none", len(got))
			}
		})
	}
}

func TestSendMessageRecordsWhatThePersonSees(t *testing.T) {
	s, api := newClient(t)
	msg := tgbotapi.NewMessage(alice.ID, "  <b>Hello</b>, &lt;Alice&gt;  ")
	msg.ParseMode = tgbotapi.ModeHTML
	msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(
		tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData("Yes", "y"), tgbotapi.NewInlineKeyboardButtonData("No", "n")),
		tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonURL("Site", "https://example.org")),
	)
	got, err := api.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != "Hello, <Alice>" || got.MessageID != 1 || got.ReplyMarkup == nil {
		t.Errorf("answer = %+v", got)
	}
	sent := s.Messages(alice.ID)[0]
	if sent.Plain != "Hello, <Alice>" || sent.Text != "  <b>Hello</b>, &lt;Alice&gt;  " {
		t.Errorf("plain %q text %q", sent.Plain, sent.Text)
	}
	if len(sent.Buttons) != 2 || sent.Buttons[0][1] != (telegramtest.Button{Text: "No", Data: "n"}) || sent.Buttons[1][0].URL != "https://example.org" {
		t.Errorf("buttons = %+v", sent.Buttons)
	}

	contact := tgbotapi.NewMessage(alice.ID, "Share your phone")
	contact.ReplyMarkup = tgbotapi.ReplyKeyboardMarkup{
		Keyboard:        [][]tgbotapi.KeyboardButton{{tgbotapi.NewKeyboardButtonContact("Share")}},
		ResizeKeyboard:  true,
		OneTimeKeyboard: true,
	}
	remove := tgbotapi.NewMessage(alice.ID, "Thanks")
	remove.ReplyMarkup = tgbotapi.NewRemoveKeyboard(true)
	for _, m := range []tgbotapi.MessageConfig{contact, remove} {
		if _, err := api.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	msgs := s.Messages(alice.ID)
	if msgs[1].ContactButton != "Share" || !msgs[1].ResizeKeyboard || !msgs[1].OneTimeKeyboard {
		t.Errorf("contact message = %+v", msgs[1])
	}
	if !msgs[2].RemoveKeyboard {
		t.Errorf("remove message = %+v", msgs[2])
	}
}

func TestInlineKeyboardLimits(t *testing.T) {
	tests := []struct {
		name    string
		button  tgbotapi.InlineKeyboardButton
		wantErr string
	}{
		{name: "64 bytes", button: tgbotapi.NewInlineKeyboardButtonData("ok", strings.Repeat("x", 64))},
		{name: "64 bytes of Cyrillic", button: tgbotapi.NewInlineKeyboardButtonData("ok", strings.Repeat("ж", 32))},
		{name: "65 bytes", button: tgbotapi.NewInlineKeyboardButtonData("ok", strings.Repeat("x", 65)), wantErr: "Bad Request: BUTTON_DATA_INVALID"},
		{name: "66 bytes of Cyrillic", button: tgbotapi.NewInlineKeyboardButtonData("ok", strings.Repeat("ж", 33)), wantErr: "Bad Request: BUTTON_DATA_INVALID"},
		{name: "empty data", button: tgbotapi.NewInlineKeyboardButtonData("ok", ""), wantErr: "Text buttons are unallowed"},
		{name: "no action", button: tgbotapi.InlineKeyboardButton{Text: "ok"}, wantErr: "Text buttons are unallowed"},
		{name: "empty text", button: tgbotapi.NewInlineKeyboardButtonData("", "x"), wantErr: "Text must be non-empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, api := newClient(t)
			msg := tgbotapi.NewMessage(alice.ID, "choose")
			msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(tc.button))
			_, err := api.Send(msg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("send: %v", err)
				}
				return
			}
			if e := apiError(t, err); !strings.Contains(e.Message, tc.wantErr) {
				t.Errorf("error = %q, want %q", e.Message, tc.wantErr)
			}
			if len(s.Rejected()) != 1 {
				t.Errorf("rejected = %+v, want one call", s.Rejected())
			}
		})
	}
}

func TestGetUpdatesOffset(t *testing.T) {
	s, api := newClient(t)
	ids := []int64{s.SendText(alice, "one"), s.SendText(alice, "/start@"+telegramtest.BotUsername+" now"), s.SendText(alice, "three")}

	got, err := api.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || int64(got[0].UpdateID) != ids[0] || got[0].Message.Text != "one" {
		t.Fatalf("first getUpdates = %+v", got)
	}
	if cmd := got[1].Message.Command(); cmd != "start" {
		t.Errorf("command = %q, want start", cmd)
	}
	// Without an offset nothing is confirmed: the same updates come again.
	if got, _ := api.GetUpdates(tgbotapi.UpdateConfig{}); len(got) != 3 {
		t.Fatalf("second getUpdates: got %d updates, want 3", len(got))
	}
	got, err = api.GetUpdates(tgbotapi.UpdateConfig{Offset: int(ids[1]), Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || int64(got[0].UpdateID) != ids[1] {
		t.Fatalf("getUpdates from %d limit 1 = %+v", ids[1], got)
	}
	if s.Pending() != 2 || s.Offset() != ids[1] {
		t.Errorf("pending %d offset %d, want 2 and %d", s.Pending(), s.Offset(), ids[1])
	}
	got, _ = api.GetUpdates(tgbotapi.UpdateConfig{Offset: int(ids[2]) + 1})
	if len(got) != 0 || s.Pending() != 0 {
		t.Errorf("after confirming all: got %d updates, %d pending", len(got), s.Pending())
	}

	// A redelivered update comes again once, whatever the offset.
	s.Redeliver(ids[0])
	got, _ = api.GetUpdates(tgbotapi.UpdateConfig{Offset: int(ids[2]) + 1})
	if len(got) != 1 || int64(got[0].UpdateID) != ids[0] {
		t.Fatalf("redelivery = %+v", got)
	}
	if got, _ := api.GetUpdates(tgbotapi.UpdateConfig{Offset: int(ids[2]) + 1}); len(got) != 0 {
		t.Errorf("the redelivered update came twice")
	}
	if len(s.Rejected()) != 0 {
		t.Errorf("rejected = %+v", s.Rejected())
	}
}

func TestGetUpdatesLongPoll(t *testing.T) {
	s, api := newClient(t)
	start := time.Now()
	got, err := api.GetUpdates(tgbotapi.UpdateConfig{Timeout: 1})
	if err != nil || len(got) != 0 {
		t.Fatalf("empty long poll = %v, %v", got, err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("empty long poll returned after %v, want about 1s", d)
	}

	go func() {
		time.Sleep(100 * time.Millisecond)
		s.SendText(alice, "hi")
	}()
	start = time.Now()
	got, err = api.GetUpdates(tgbotapi.UpdateConfig{Timeout: 10})
	if err != nil || len(got) != 1 {
		t.Fatalf("long poll = %v, %v", got, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("long poll took %v, want it to return when the update arrives", d)
	}
}

func TestGetUpdatesConflict(t *testing.T) {
	s, api := newClient(t)
	errc := make(chan error, 1)
	go func() {
		_, err := api.GetUpdates(tgbotapi.UpdateConfig{Timeout: 10})
		errc <- err
	}()
	s.WaitCalls(t, "getUpdates", 0, time.Second)
	time.Sleep(100 * time.Millisecond) // let the first poll start waiting
	if _, err := api.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if e := apiError(t, err); e.Code != 409 {
			t.Errorf("first poll error = %d %q, want 409", e.Code, e.Message)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first poll was not ended by the second")
	}
	if len(s.Rejected()) != 0 {
		t.Errorf("a conflict counted as rejected: %+v", s.Rejected())
	}
}

func TestFailNext(t *testing.T) {
	s, api := newClient(t)
	s.FailNext("sendMessage", 1, 429, 7)
	s.FailNext("sendMessage", 1, 502, 0)
	s.FailNext("sendMessage", 1, 0, 0)

	_, err := api.Send(tgbotapi.NewMessage(alice.ID, "x"))
	if e := apiError(t, err); e.Code != 429 || e.RetryAfter != 7 || e.Message != "Too Many Requests: retry after 7" {
		t.Errorf("429 = %+v", e)
	}
	_, err = api.Send(tgbotapi.NewMessage(alice.ID, "x"))
	if e := apiError(t, err); e.Code != 502 {
		t.Errorf("502 = %+v", e)
	}
	_, err = api.Send(tgbotapi.NewMessage(alice.ID, "x"))
	var te *tgbotapi.Error
	if err == nil || errors.As(err, &te) {
		t.Errorf("dropped connection: error = %v, want a network error", err)
	}
	if _, err := api.Send(tgbotapi.NewMessage(alice.ID, "x")); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	if len(s.Rejected()) != 0 {
		t.Errorf("injected faults counted as rejected: %+v", s.Rejected())
	}
	if got := s.Calls("sendMessage"); len(got) != 4 || !got[0].Injected || !got[3].OK() {
		t.Errorf("calls = %+v", got)
	}

	s.Block(alice.ID)
	_, err = api.Send(tgbotapi.NewMessage(alice.ID, "x"))
	if e := apiError(t, err); e.Code != 403 {
		t.Errorf("blocked = %+v", e)
	}
	s.Unblock(alice.ID)
	if _, err := api.Send(tgbotapi.NewMessage(alice.ID, "x")); err != nil {
		t.Errorf("after unblock: %v", err)
	}
}

func TestCallbackQueries(t *testing.T) {
	s, api := newClient(t)
	msg := tgbotapi.NewMessage(alice.ID, "Language?")
	msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("English", "lang:en"), tgbotapi.NewInlineKeyboardButtonData("Русский", "lang:ru")))
	sent, err := api.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	id := s.Press(t, alice, "Русский")
	updates, _ := api.GetUpdates(tgbotapi.UpdateConfig{})
	cq := updates[0].CallbackQuery
	if cq == nil || cq.Data != "lang:ru" || cq.Message.MessageID != sent.MessageID || cq.From.ID != alice.ID || cq.Message.Chat.ID != alice.ID {
		t.Fatalf("callback query = %+v", cq)
	}
	if got := s.UnansweredCallbacks(); len(got) != 1 || got[0] != cq.ID {
		t.Errorf("unanswered = %v", got)
	}
	if _, err := api.Request(tgbotapi.NewCallback(cq.ID, strings.Repeat("x", 201))); err == nil {
		t.Error("a 201 character answer was accepted")
	}
	if _, err := api.Request(tgbotapi.NewCallback(cq.ID, "Saved")); err != nil {
		t.Fatal(err)
	}
	if text, ok := s.CallbackAnswer(id); !ok || text != "Saved" {
		t.Errorf("answer = %q %v", text, ok)
	}
	_, err = api.Request(tgbotapi.NewCallback(cq.ID, ""))
	if e := apiError(t, err); e.Message != "Bad Request: query is too old and response timeout expired or query ID is invalid" {
		t.Errorf("second answer = %q", e.Message)
	}
	if _, err := api.Request(tgbotapi.NewCallback("nope", "")); err == nil {
		t.Error("an unknown query id was accepted")
	}
	if len(s.UnansweredCallbacks()) != 0 || len(s.Rejected()) != 3 {
		t.Errorf("unanswered %v, rejected %+v", s.UnansweredCallbacks(), s.Rejected())
	}
}

func TestEditMessageText(t *testing.T) {
	s, api := newClient(t)
	sent, err := api.Send(tgbotapi.NewMessage(alice.ID, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	s.SendText(alice, "hi") // takes message id 2 in the chat

	edit := tgbotapi.NewEditMessageTextAndMarkup(alice.ID, sent.MessageID, "<b>v2</b>",
		tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData("Next", "next"))))
	edit.ParseMode = tgbotapi.ModeHTML
	if _, err := api.Send(edit); err != nil {
		t.Fatal(err)
	}
	_, err = api.Send(edit)
	if e := apiError(t, err); !strings.HasPrefix(e.Message, "Bad Request: message is not modified") {
		t.Errorf("same edit = %q", e.Message)
	}
	for _, tc := range []struct {
		id   int
		want string
	}{{99, "Bad Request: message to edit not found"}, {2, "Bad Request: message can't be edited"}} {
		_, err := api.Send(tgbotapi.NewEditMessageText(alice.ID, tc.id, "x"))
		if e := apiError(t, err); e.Message != tc.want {
			t.Errorf("edit of %d = %q, want %q", tc.id, e.Message, tc.want)
		}
	}
	// An edit without reply_markup removes the inline keyboard.
	if _, err := api.Send(tgbotapi.NewEditMessageText(alice.ID, sent.MessageID, "v3")); err != nil {
		t.Fatal(err)
	}
	got := s.Messages(alice.ID)
	if len(got) != 1 || got[0].Plain != "v3" || got[0].Edits != 2 || got[0].Buttons != nil {
		t.Errorf("messages = %+v", got)
	}
	if rej := s.Rejected(); len(rej) != 2 {
		t.Errorf("rejected = %+v, want the two edits of missing or foreign messages", rej)
	}
}

func TestCommands(t *testing.T) {
	s, api := newClient(t)
	ok := tgbotapi.NewSetMyCommandsWithScopeAndLanguage(tgbotapi.NewBotCommandScopeDefault(), "ru",
		tgbotapi.BotCommand{Command: "start", Description: "Начать"}, tgbotapi.BotCommand{Command: "my_appeals", Description: "Мои обращения"})
	if _, err := api.Request(ok); err != nil {
		t.Fatal(err)
	}
	if got := s.Commands("default", "ru"); len(got) != 2 || got[1].Command != "my_appeals" {
		t.Errorf("commands = %+v", got)
	}
	cmds, err := api.GetMyCommandsWithConfig(tgbotapi.GetMyCommandsConfig{LanguageCode: "ru"})
	if err != nil || len(cmds) != 2 {
		t.Errorf("getMyCommands = %v, %v", cmds, err)
	}
	for _, bad := range []tgbotapi.BotCommand{
		{Command: "Start", Description: "x"},
		{Command: "", Description: "x"},
		{Command: strings.Repeat("a", 33), Description: "x"},
		{Command: "start", Description: ""},
		{Command: "start", Description: strings.Repeat("d", 257)},
	} {
		if _, err := api.Request(tgbotapi.NewSetMyCommands(bad)); err == nil {
			t.Errorf("setMyCommands(%+v) was accepted", bad)
		}
	}
	if _, err := api.Request(tgbotapi.NewDeleteMyCommandsWithScopeAndLanguage(tgbotapi.NewBotCommandScopeDefault(), "ru")); err != nil {
		t.Fatal(err)
	}
	if got := s.Commands("default", "ru"); len(got) != 0 {
		t.Errorf("after delete: %+v", got)
	}
}

func TestOtherMethods(t *testing.T) {
	s, api := newClient(t)
	id := s.SendPhoto(alice, "my passport", "")
	var u tgbotapi.Update
	if err := json.Unmarshal(s.Update(id), &u); err != nil {
		t.Fatal(err)
	}
	largest := u.Message.Photo[len(u.Message.Photo)-1]
	f, err := api.GetFile(tgbotapi.FileConfig{FileID: largest.FileID})
	if err != nil || f.FileSize != 150000 || f.FilePath == "" {
		t.Errorf("getFile = %+v, %v", f, err)
	}
	if _, err := api.Request(tgbotapi.NewChatAction(alice.ID, tgbotapi.ChatTyping)); err != nil {
		t.Error(err)
	}
	if _, err := api.Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		t.Error(err)
	}
	if info, err := api.GetWebhookInfo(); err != nil || info.PendingUpdateCount != 1 {
		t.Errorf("getWebhookInfo = %+v, %v", info, err)
	}
	if len(s.Rejected()) != 0 {
		t.Errorf("rejected = %+v", s.Rejected())
	}
}

// errorRecorder stands in for the test to catch the double's own failures.
type errorRecorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *errorRecorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, format)
}

func TestUnknownMethodFailsTheTest(t *testing.T) {
	rec := &errorRecorder{TB: t}
	s := telegramtest.New(rec, token)
	api, err := tgbotapi.NewBotAPIWithAPIEndpoint(token, s.URL+"/bot%s/%s")
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.Send(tgbotapi.NewPhoto(alice.ID, tgbotapi.FileID("x")))
	if e := apiError(t, err); e.Code != 404 {
		t.Errorf("sendPhoto = %+v, want 404", e)
	}
	if len(rec.errors) != 1 || len(s.Rejected()) != 1 {
		t.Errorf("test errors %v, rejected %+v", rec.errors, s.Rejected())
	}
}

func TestWrongToken(t *testing.T) {
	s := telegramtest.New(t, token)
	_, err := tgbotapi.NewBotAPIWithAPIEndpoint("999:wrong", s.URL+"/bot%s/%s")
	if e := apiError(t, err); e.Code != 401 {
		t.Errorf("error = %+v, want 401", e)
	}
}

func TestNewListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := telegramtest.NewListener(t, token, l)
	if !strings.HasSuffix(s.URL, l.Addr().String()) {
		t.Errorf("URL = %q, want the listener's address %s", s.URL, l.Addr())
	}
	if _, err := tgbotapi.NewBotAPIWithAPIEndpoint(token, s.URL+"/bot%s/%s"); err != nil {
		t.Fatal(err)
	}
}

func TestPeopleUpdates(t *testing.T) {
	s, api := newClient(t)
	s.SendContact(alice, "+994501234567", true)
	s.SendDocument(alice, "scan.pdf", "application/pdf", 2048, "scan")
	s.SendSticker(alice)
	s.SendVoice(alice)
	s.SendLocation(alice)
	s.EditText(alice, 1, "edited")
	s.SendGroupText(-100, alice, "/start")
	s.PressData(alice, 42, "stale")
	s.Enqueue(map[string]any{"my_chat_member": map[string]any{"chat": map[string]any{"id": alice.ID, "type": "private"}}})
	updates, err := api.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if len(updates) != 9 {
		t.Fatalf("got %d updates, want 9", len(updates))
	}
	checks := []bool{
		updates[0].Message.Contact != nil && updates[0].Message.Contact.UserID == alice.ID,
		updates[1].Message.Document != nil && updates[1].Message.Document.FileName == "scan.pdf" && updates[1].Message.Caption == "scan",
		updates[2].Message.Sticker != nil,
		updates[3].Message.Voice != nil,
		updates[4].Message.Location != nil,
		updates[5].EditedMessage != nil && updates[5].EditedMessage.Text == "edited",
		updates[6].Message.Chat.Type == "group" && updates[6].Message.IsCommand(),
		updates[7].CallbackQuery != nil && updates[7].CallbackQuery.Message.MessageID == 42,
		updates[8].MyChatMember != nil,
	}
	for i, ok := range checks {
		if !ok {
			t.Errorf("update %d = %s", i, s.Update(int64(updates[i].UpdateID)))
		}
	}
}
