package bot

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

func TestUpdateToInput(t *testing.T) {
	h := newHarness(t, Options{})
	tg := h.tg
	// A bot message with a button, for the press.
	tg.Enqueue(map[string]any{}) // unused update, keeps ids realistic
	msgs := h.outbox.add(alice.ID, migrantbot.Message{Text: "Pick", Buttons: [][]migrantbot.Button{{{Text: "Yes", Data: "yes"}}}})
	h.bot.Deliver(t.Context(), msgs)

	private := func(kind migrantbot.InputKind) migrantbot.Input {
		return migrantbot.Input{Kind: kind, LanguageCode: alice.LanguageCode}
	}
	with := func(in migrantbot.Input, f func(*migrantbot.Input)) migrantbot.Input { f(&in); return in }
	msg := func(extra string) string {
		return `{"message":{"message_id":9,"date":1,"from":{"id":501,"first_name":"Alice","language_code":"ru"},"chat":{"id":501,"type":"private"},` + extra + `}}`
	}
	tests := []struct {
		name     string
		send     func() int64
		wantKind string
		want     migrantbot.Input
		wantChat int64
	}{
		{name: "text", send: func() int64 { return tg.SendText(alice, "I need help <now> & here") }, wantKind: kindText,
			want: with(private(migrantbot.InputText), func(in *migrantbot.Input) { in.Text = "I need help <now> & here" })},
		{name: "command", send: func() int64 { return tg.SendText(alice, "/start") }, wantKind: kindCommand,
			want: with(private(migrantbot.InputCommand), func(in *migrantbot.Input) { in.Command = "start" })},
		{name: "command addressed to the bot with arguments", send: func() int64 {
			return tg.SendText(alice, "/Appeal@"+telegramtest.BotUsername+"  AP-2026-000042 ")
		}, wantKind: kindCommand,
			want: with(private(migrantbot.InputCommand), func(in *migrantbot.Input) { in.Command = "appeal"; in.Text = "AP-2026-000042" })},
		{name: "command on the next line", send: func() int64 { return tg.SendText(alice, "/menu\nplease") }, wantKind: kindCommand,
			want: with(private(migrantbot.InputCommand), func(in *migrantbot.Input) { in.Command = "menu"; in.Text = "please" })},
		{name: "command of another bot is text", send: func() int64 { return tg.SendText(alice, "/start@other_bot") }, wantKind: kindText,
			want: with(private(migrantbot.InputText), func(in *migrantbot.Input) { in.Text = "/start@other_bot" })},
		{name: "a lone slash is text", send: func() int64 { return tg.SendText(alice, "/ what") }, wantKind: kindText,
			want: with(private(migrantbot.InputText), func(in *migrantbot.Input) { in.Text = "/ what" })},
		{name: "own contact", send: func() int64 { return tg.SendContact(alice, "+994501234567", true) }, wantKind: kindContact,
			want: with(private(migrantbot.InputContact), func(in *migrantbot.Input) { in.Phone = "+994501234567"; in.OwnContact = true })},
		{name: "someone else's contact", send: func() int64 { return tg.SendContact(alice, "+79990001122", false) }, wantKind: kindContact,
			want: with(private(migrantbot.InputContact), func(in *migrantbot.Input) { in.Phone = "+79990001122" })},
		{name: "photo in an album", send: func() int64 { return tg.SendPhoto(alice, "my passport", "album-1") }, wantKind: kindPhoto,
			want: with(private(migrantbot.InputFile), func(in *migrantbot.Input) {
				in.Text = "my passport"
				in.File = &migrantbot.Attachment{FileID: "photo-3", FileUniqueID: "uphoto-3", Kind: "photo", Size: 150000,
					Caption: "my passport", MediaGroupID: "album-1"}
			})},
		{name: "document", send: func() int64 { return tg.SendDocument(alice, "decision.pdf", "application/pdf", 52000, "") }, wantKind: kindDocument,
			want: with(private(migrantbot.InputFile), func(in *migrantbot.Input) {
				in.File = &migrantbot.Attachment{FileID: "document-4", FileUniqueID: "udocument-4", Kind: "document", Size: 52000,
					FileName: "decision.pdf", MimeType: "application/pdf"}
			})},
		{name: "sticker", send: func() int64 { return tg.SendSticker(alice) }, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "voice", send: func() int64 { return tg.SendVoice(alice) }, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "location", send: func() int64 { return tg.SendLocation(alice) }, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "audio", send: func() int64 {
			return tg.Enqueue(msg(`"audio":{"file_id":"a","file_unique_id":"ua","duration":3}`))
		}, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "video", send: func() int64 {
			return tg.Enqueue(msg(`"video":{"file_id":"v","file_unique_id":"uv","width":1,"height":1,"duration":3}`))
		}, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "video note", send: func() int64 {
			return tg.Enqueue(msg(`"video_note":{"file_id":"v","file_unique_id":"uv","length":1,"duration":3}`))
		}, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "animation with its document", send: func() int64 {
			return tg.Enqueue(msg(`"animation":{"file_id":"g","file_unique_id":"ug","width":1,"height":1,"duration":1},"document":{"file_id":"g","file_unique_id":"ug","file_name":"a.mp4"}`))
		}, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "venue", send: func() int64 {
			return tg.Enqueue(msg(`"venue":{"location":{"latitude":1,"longitude":2},"title":"t","address":"a"},"location":{"latitude":1,"longitude":2}`))
		}, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "poll", send: func() int64 {
			return tg.Enqueue(msg(`"poll":{"id":"p","question":"q","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}`))
		}, wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "dice", send: func() int64 { return tg.Enqueue(msg(`"dice":{"emoji":"🎲","value":3}`)) },
			wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "game", send: func() int64 { return tg.Enqueue(msg(`"game":{"title":"g","description":"d","photo":[]}`)) },
			wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "a kind the library does not know", send: func() int64 { return tg.Enqueue(msg(`"story":{"id":1}`)) },
			wantKind: kindUnsupported, want: private(migrantbot.InputUnsupported)},
		{name: "edited message", send: func() int64 { return tg.EditText(alice, 3, "corrected text") }, wantKind: kindEdited,
			want: with(private(migrantbot.InputEdited), func(in *migrantbot.Input) { in.Text = "corrected text" })},
		{name: "group", send: func() int64 { return tg.SendGroupText(-1001234567890, alice, "hello all") }, wantKind: kindText, wantChat: -1001234567890,
			want: with(private(migrantbot.InputText), func(in *migrantbot.Input) { in.Text = "hello all"; in.Group = true })},
		{name: "button", send: func() int64 { return tg.Press(t, alice, "Yes") }, wantKind: kindButton,
			want: with(private(migrantbot.InputButton), func(in *migrantbot.Input) { in.Data = "yes"; in.MessageID = 1 })},
		{name: "stale button", send: func() int64 { return tg.PressData(alice, 77, "old:data") }, wantKind: kindButton,
			want: with(private(migrantbot.InputButton), func(in *migrantbot.Input) { in.Data = "old:data"; in.MessageID = 77 })},
		{name: "button on an inline message", send: func() int64 {
			return tg.Enqueue(`{"callback_query":{"id":"q1","from":{"id":501,"first_name":"A"},"inline_message_id":"im","chat_instance":"c","data":"x"}}`)
		}, wantKind: kindIgnored, wantChat: 0},
		{name: "bot blocked", send: func() int64 {
			return tg.Enqueue(`{"my_chat_member":{"chat":{"id":501,"type":"private"},"from":{"id":501,"first_name":"A"},"date":1,"old_chat_member":{"status":"member","user":{"id":1,"first_name":"b"}},"new_chat_member":{"status":"kicked","user":{"id":1,"first_name":"b"}}}}`)
		}, wantKind: kindIgnored, wantChat: 0},
		{name: "channel post", send: func() int64 {
			return tg.Enqueue(`{"channel_post":{"message_id":1,"date":1,"chat":{"id":-1009,"type":"channel"},"text":"news"}}`)
		}, wantKind: kindIgnored, wantChat: 0},
		{name: "inline query", send: func() int64 {
			return tg.Enqueue(`{"inline_query":{"id":"iq","from":{"id":501,"first_name":"A"},"query":"x","offset":""}}`)
		}, wantKind: kindIgnored, wantChat: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.send()
			var tu tgbotapi.Update
			if err := json.Unmarshal(tg.Update(id), &tu); err != nil {
				t.Fatalf("decode update: %v", err)
			}
			now := time.Now()
			u, in, kind := h.bot.toInput(tu, now)
			if kind != tc.wantKind {
				t.Errorf("kind = %q, want %q", kind, tc.wantKind)
			}
			if kind == kindIgnored {
				return
			}
			wantChat := tc.wantChat
			if wantChat == 0 {
				wantChat = alice.ID
			}
			if want := (migrantbot.Update{ID: id, ChatID: wantChat, UserID: alice.ID}); u != want {
				t.Errorf("update = %+v, want %+v", u, want)
			}
			tc.want.Now = now
			if !reflect.DeepEqual(in, tc.want) {
				t.Errorf("input = %+v (file %+v),\nwant    %+v (file %+v)", in, in.File, tc.want, tc.want.File)
			}
		})
	}
}

// TestPollDeliversInputs runs the mapping end to end: updates fetched by
// Poll reach the handler, and ignored ones are only acknowledged.
func TestPollDeliversInputs(t *testing.T) {
	h := newHarness(t, Options{})
	ids := []int64{
		h.tg.SendText(alice, "/start"),
		h.tg.Enqueue(`{"inline_query":{"id":"iq","from":{"id":501,"first_name":"A"},"query":"x","offset":""}}`),
		h.tg.SendContact(alice, "+994501234567", true),
	}
	h.poll(t)
	h.tg.WaitOffset(t, ids[2]+1, 5*time.Second)
	calls := h.rec.handledCalls()
	if len(calls) != 2 || calls[0].in.Kind != migrantbot.InputCommand || calls[1].in.Kind != migrantbot.InputContact {
		t.Fatalf("handled %+v, want the command and the contact", calls)
	}
	if calls[0].u.ID != ids[0] || calls[1].u.ID != ids[2] {
		t.Errorf("update ids %d, %d, want %d, %d", calls[0].u.ID, calls[1].u.ID, ids[0], ids[2])
	}
	h.tg.WaitMessages(t, alice.ID, 2, 5*time.Second)
	h.noRejected(t)
}
