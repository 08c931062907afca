package bot

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

// updateSeeds are realistic updates of every kind, plus broken ones, that
// start FuzzUpdateInput and run as its seed corpus in the normal suite.
var updateSeeds = []string{
	// Text in a private chat.
	`{"update_id":1,"message":{"message_id":9,"date":1,"from":{"id":501,"first_name":"Alice","language_code":"ru"},"chat":{"id":501,"type":"private"},"text":"I need help <now> & here"}}`,
	// Commands: plain, addressed to this bot with arguments, to another bot, a lone slash.
	`{"update_id":2,"message":{"message_id":10,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"text":"/start","entities":[{"type":"bot_command","offset":0,"length":6}]}}`,
	`{"update_id":3,"message":{"message_id":11,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"text":"/Appeal@migrant_test_bot  AP-2026-000042 "}}`,
	`{"update_id":4,"message":{"message_id":12,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"text":"/start@other_bot"}}`,
	`{"update_id":5,"message":{"message_id":13,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"text":"/ what"}}`,
	`{"update_id":6,"message":{"message_id":14,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"text":"/menu\nplease"}}`,
	// A pressed button, and one on an inline message (no chat).
	`{"update_id":7,"callback_query":{"id":"cq1","from":{"id":501,"first_name":"Alice","language_code":"az"},"message":{"message_id":20,"date":1,"chat":{"id":501,"type":"private"},"text":"Pick"},"chat_instance":"ci","data":"a:category:c:labour"}}`,
	`{"update_id":8,"callback_query":{"id":"cq2","from":{"id":501,"first_name":"Alice"},"inline_message_id":"im","chat_instance":"ci","data":"l:en"}}`,
	// Contacts: own and someone else's.
	`{"update_id":9,"message":{"message_id":15,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"contact":{"phone_number":"+994501234567","first_name":"Alice","user_id":501}}}`,
	`{"update_id":10,"message":{"message_id":16,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"contact":{"phone_number":"79990001122","first_name":"Bob"}}}`,
	// A photo of an album, in three sizes.
	`{"update_id":11,"message":{"message_id":17,"date":1,"media_group_id":"album-1","from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"caption":"my passport","photo":[{"file_id":"p1","file_unique_id":"u1","width":90,"height":60,"file_size":1000},{"file_id":"p2","file_unique_id":"u2","width":800,"height":600,"file_size":150000},{"file_id":"p3","file_unique_id":"u3","width":320,"height":240,"file_size":20000}]}}`,
	// A document, a sticker, a voice message, a location, an animation with its document.
	`{"update_id":12,"message":{"message_id":18,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"document":{"file_id":"d1","file_unique_id":"ud1","file_name":"decision.pdf","mime_type":"application/pdf","file_size":52000}}}`,
	`{"update_id":13,"message":{"message_id":19,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"sticker":{"file_id":"s","file_unique_id":"us","width":512,"height":512,"is_animated":false}}}`,
	`{"update_id":14,"message":{"message_id":21,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"voice":{"file_id":"v","file_unique_id":"uv","duration":3}}}`,
	`{"update_id":15,"message":{"message_id":22,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"location":{"longitude":49.8,"latitude":40.4}}}`,
	`{"update_id":16,"message":{"message_id":23,"date":1,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"animation":{"file_id":"g","file_unique_id":"ug","width":1,"height":1,"duration":1},"document":{"file_id":"g","file_unique_id":"ug","file_name":"a.mp4"}}}`,
	// An edited message, and an edited caption.
	`{"update_id":17,"edited_message":{"message_id":9,"date":1,"edit_date":2,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"text":"I need help now"}}`,
	`{"update_id":18,"edited_message":{"message_id":17,"date":1,"edit_date":2,"from":{"id":501,"first_name":"Alice"},"chat":{"id":501,"type":"private"},"caption":"my passport, page 2","photo":[{"file_id":"p1","file_unique_id":"u1","width":90,"height":60}]}}`,
	// A group message, a command in a group, a service message.
	`{"update_id":19,"message":{"message_id":30,"date":1,"from":{"id":502,"first_name":"Bob"},"chat":{"id":-100123,"type":"supergroup","title":"Staff"},"text":"hello all"}}`,
	`{"update_id":20,"message":{"message_id":31,"date":1,"from":{"id":502,"first_name":"Bob"},"chat":{"id":-100123,"type":"group","title":"Staff"},"text":"/help@MIGRANT_TEST_BOT"}}`,
	`{"update_id":21,"message":{"message_id":32,"date":1,"from":{"id":502,"first_name":"Bob"},"chat":{"id":-100123,"type":"group","title":"Staff"},"new_chat_members":[{"id":503,"first_name":"Carol"}]}}`,
	// A channel post, an anonymous group message (no from), my_chat_member, inline query.
	`{"update_id":22,"channel_post":{"message_id":1,"date":1,"chat":{"id":-100999,"type":"channel"},"text":"news"}}`,
	`{"update_id":23,"message":{"message_id":33,"date":1,"sender_chat":{"id":-100123,"type":"supergroup"},"chat":{"id":-100123,"type":"supergroup"},"text":"anonymous"}}`,
	`{"update_id":24,"my_chat_member":{"chat":{"id":501,"type":"private"},"from":{"id":501,"first_name":"Alice"},"date":1,"old_chat_member":{"user":{"id":1,"is_bot":true,"first_name":"Bot"},"status":"member"},"new_chat_member":{"user":{"id":1,"is_bot":true,"first_name":"Bot"},"status":"kicked","until_date":0}}}`,
	`{"update_id":25,"inline_query":{"id":"iq","from":{"id":501,"first_name":"Alice"},"query":"x","offset":""}}`,
	// A message without a chat, an empty message, an empty photo list.
	`{"update_id":26,"message":{"message_id":34,"date":1,"text":"lost"}}`,
	`{"update_id":27,"message":{"message_id":35,"date":1,"chat":{"id":501,"type":"private"}}}`,
	`{"update_id":28,"message":{"message_id":36,"date":1,"chat":{"id":501,"type":"private"},"photo":[]}}`,
	// Malformed JSON and wrong types.
	`{"update_id":29,"message":{"message_id":`,
	`{"update_id":"thirty","message":[]}`,
	`null`,
	`{}`,
	``,
}

// FuzzUpdateInput feeds arbitrary JSON as a Telegram update through the
// mapping to a domain input and checks what the dialogs rely on.
func FuzzUpdateInput(f *testing.F) {
	for _, s := range updateSeeds {
		f.Add([]byte(s))
	}
	b := &Bot{api: &tgbotapi.BotAPI{Self: tgbotapi.User{ID: telegramtest.BotID, UserName: telegramtest.BotUsername}}}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		var tu tgbotapi.Update
		if json.Unmarshal(data, &tu) != nil {
			return
		}
		u, in, kind := b.toInput(tu, now)
		checkInput(t, b, tu, u, in, kind, now)
	})
}

// checkInput checks the input mapped from tu against the update itself.
func checkInput(t *testing.T, b *Bot, tu tgbotapi.Update, u migrantbot.Update, in migrantbot.Input, kind string, now time.Time) {
	t.Helper()
	if u.ID != int64(tu.UpdateID) {
		t.Errorf("update id %d, want %d", u.ID, tu.UpdateID)
	}
	if !in.Now.Equal(now) {
		t.Errorf("Now %v, want %v", in.Now, now)
	}
	wantKind := map[string]migrantbot.InputKind{
		kindText: migrantbot.InputText, kindCommand: migrantbot.InputCommand, kindButton: migrantbot.InputButton,
		kindContact: migrantbot.InputContact, kindPhoto: migrantbot.InputFile, kindDocument: migrantbot.InputFile,
		kindUnsupported: migrantbot.InputUnsupported, kindEdited: migrantbot.InputEdited, kindIgnored: 0,
	}
	want, ok := wantKind[kind]
	if !ok {
		t.Fatalf("unknown kind %q", kind)
	}
	if in.Kind != want {
		t.Fatalf("kind %q with input kind %d, want %d", kind, in.Kind, want)
	}
	m := personMessage(tu)
	switch {
	case m != nil:
	case tu.CallbackQuery != nil:
		cq := tu.CallbackQuery
		if cq.Message == nil || cq.Message.Chat == nil || cq.From == nil {
			if kind != kindIgnored {
				t.Fatalf("a button without a chat or sender mapped to %q", kind)
			}
			return
		}
		if kind != kindButton {
			t.Fatalf("a callback query mapped to %q", kind)
		}
		if in.Data != cq.Data {
			t.Errorf("callback data %q, want it unchanged %q", in.Data, cq.Data)
		}
		if u.ChatID != cq.Message.Chat.ID || u.UserID != cq.From.ID || in.MessageID != cq.Message.MessageID {
			t.Errorf("chat %d user %d message %d, want %d %d %d", u.ChatID, u.UserID, in.MessageID,
				cq.Message.Chat.ID, cq.From.ID, cq.Message.MessageID)
		}
		if in.Group != !cq.Message.Chat.IsPrivate() || in.LanguageCode != cq.From.LanguageCode {
			t.Errorf("group %v language %q from a %q chat of a %q speaker", in.Group, in.LanguageCode, cq.Message.Chat.Type, cq.From.LanguageCode)
		}
		return
	default:
		if kind != kindIgnored {
			t.Fatalf("an update without a message or button mapped to %q", kind)
		}
		return
	}
	if m.Chat == nil {
		if kind != kindIgnored {
			t.Fatalf("a message without a chat mapped to %q", kind)
		}
		return
	}
	if kind == kindIgnored {
		t.Fatalf("a message in chat %d was ignored", m.Chat.ID)
	}
	if u.ChatID != m.Chat.ID {
		t.Errorf("chat %d, want %d", u.ChatID, m.Chat.ID)
	}
	wantUser, wantLang := int64(0), ""
	if m.From != nil {
		wantUser, wantLang = m.From.ID, m.From.LanguageCode
	}
	if u.UserID != wantUser || in.LanguageCode != wantLang {
		t.Errorf("user %d language %q, want %d %q", u.UserID, in.LanguageCode, wantUser, wantLang)
	}
	if in.Group != !m.Chat.IsPrivate() {
		t.Errorf("group %v in a %q chat", in.Group, m.Chat.Type)
	}
	if in.Data != "" || in.MessageID != 0 {
		t.Errorf("a message carries button data %q or message id %d", in.Data, in.MessageID)
	}
	if tu.EditedMessage != nil && tu.Message == nil {
		if kind != kindEdited {
			t.Fatalf("an edited message mapped to %q", kind)
		}
		if in.Text != m.Text && in.Text != m.Caption {
			t.Errorf("edited text %q is neither the text nor the caption", in.Text)
		}
		return
	}
	switch kind {
	case kindCommand:
		checkCommand(t, b, m.Text, in)
	case kindText:
		if in.Text != m.Text || in.Text == "" {
			t.Errorf("text %q, want %q", in.Text, m.Text)
		}
		if name, _, ok := b.command(m.Text); ok {
			t.Errorf("text %q reads as command %q", m.Text, name)
		}
	case kindContact:
		if m.Contact == nil || in.Phone != m.Contact.PhoneNumber {
			t.Errorf("contact mapped to phone %q", in.Phone)
		}
		if in.OwnContact && (m.From == nil || m.Contact.UserID != m.From.ID) {
			t.Errorf("someone else's contact taken as the sender's own")
		}
	case kindPhoto, kindDocument:
		f := in.File
		if f == nil {
			t.Fatalf("%s without a file", kind)
		}
		if f.Kind != kind || f.Caption != m.Caption || in.Text != m.Caption || f.MediaGroupID != m.MediaGroupID {
			t.Errorf("%s mapped to %+v with text %q", kind, *f, in.Text)
		}
		if kind == kindPhoto {
			found := false
			for _, p := range m.Photo {
				found = found || (p.FileID == f.FileID && p.FileUniqueID == f.FileUniqueID && int64(p.FileSize) == f.Size)
				if p.Width*p.Height > largest(m.Photo) {
					t.Errorf("picked a smaller photo")
				}
			}
			if !found {
				t.Errorf("photo %q is none of the sizes offered", f.FileID)
			}
		} else if m.Document == nil || f.FileID != m.Document.FileID || f.FileName != m.Document.FileName {
			t.Errorf("document mapped to %+v", *f)
		}
	}
	if kind != kindPhoto && kind != kindDocument && in.File != nil {
		t.Errorf("%s carries a file", kind)
	}
}

// largest is the pixel count of the biggest photo size.
func largest(sizes []tgbotapi.PhotoSize) int {
	n := 0
	for _, p := range sizes {
		n = max(n, p.Width*p.Height)
	}
	return n
}

// checkCommand checks a command mapped from text.
func checkCommand(t *testing.T, b *Bot, text string, in migrantbot.Input) {
	t.Helper()
	c := in.Command
	if c == "" || strings.ContainsAny(c, "/@") || strings.ContainsFunc(c, unicode.IsSpace) {
		t.Errorf("command %q from %q has a slash, an at sign or a space, or is empty", c, text)
	}
	if strings.ToLower(c) != c {
		t.Errorf("command %q from %q is not lower case", c, text)
	}
	if !strings.HasPrefix(text, "/") {
		t.Errorf("command %q from text %q without a slash", c, text)
	}
	if in.Text != strings.TrimSpace(in.Text) {
		t.Errorf("command arguments %q are not trimmed", in.Text)
	}
	word := strings.FieldsFunc(text[1:], unicode.IsSpace)
	if len(word) == 0 || !strings.EqualFold(strings.SplitN(word[0], "@", 2)[0], c) {
		t.Errorf("command %q is not the first word of %q", c, text)
	}
	if _, to, ok := strings.Cut(word[0], "@"); ok && !strings.EqualFold(to, b.api.Self.UserName) {
		t.Errorf("command %q of %q is addressed to another bot", c, text)
	}
}

// FuzzSplitHTML splits any text Telegram accepts as HTML and checks that the
// parts are valid, short enough, and together show the whole text.
func FuzzSplitHTML(f *testing.F) {
	for _, s := range []string{
		"short <b>text</b>",
		"para one.\nline\n\npara two.",
		"<b>aaaa <i>bbbb</i> cccc</b>",
		`<a href="https://x.org/?a=1&amp;b=2">aaaa bbbb</a>`,
		"&lt;&lt;&lt; &amp;&amp;&amp; &#128512; &#x1F600;",
		"😀😀 😀😀\n\n\n\n\nbbbb",
		`<pre><code class="language-go">x := 1</code></pre> <tg-spoiler>s</tg-spoiler> <span class="tg-spoiler">t</span>`,
		`<blockquote>quote</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`,
		strings.Repeat("word ", 1000),
		"<b>" + strings.Repeat("Описание жалобы. ", 300) + "</b>",
	} {
		f.Add(s, uint16(10))
		f.Add(s, uint16(MaxTextLength))
	}
	f.Fuzz(func(t *testing.T, text string, limit uint16) {
		lim := 2 + int(limit)%(MaxTextLength-1) // 2..4096: a character is at most 2 units wide
		// What the splitter refuses is sent as plain text: that must always
		// be valid and split.
		fallback := plainFallback(text)
		if _, _, err := telegramtest.ParseHTML(fallback); err != nil {
			t.Fatalf("plain fallback is not valid HTML (%v): %q", err, fallback)
		}
		if _, err := splitHTML(fallback, lim); err != nil {
			t.Fatalf("the splitter refuses the plain fallback: %v", err)
		}
		plain, _, err := telegramtest.ParseHTML(text)
		if err != nil {
			return
		}
		parts, err := splitHTML(text, lim)
		if err != nil && unusualTag(text) {
			// Known and harmless: attribute names with a quote or an '&' in
			// them, as in <a 0"=> or <a 0&0=>, which Telegram takes as
			// names, are refused by the splitter. Such a text goes out as
			// plain text, and the dialogs never write such tags.
			return
		}
		if err != nil {
			t.Fatalf("Telegram accepts the text but the splitter refuses it: %v", err)
		}
		var joined strings.Builder
		for i, p := range parts {
			pp, _, err := telegramtest.ParseHTML(p)
			if err != nil {
				t.Fatalf("part %d of %d is not valid HTML (%v): %q", i, len(parts), err, p)
			}
			if n := len(utf16.Encode([]rune(pp))); n > lim {
				t.Fatalf("part %d shows %d characters, limit %d", i, n, lim)
			}
			if strings.TrimSpace(pp) == "" {
				t.Errorf("part %d shows only white space", i)
			}
			joined.WriteString(pp)
		}
		// Parts that would show only white space are left out, so white
		// space is all that may go missing.
		noSpace := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s)
		}
		if noSpace(joined.String()) != noSpace(plain) {
			t.Fatalf("parts show %q, the text shows %q", joined.String(), plain)
		}
	})
}

// conventionalTag is a start or end tag as the dialogs write them: letters
// and dashes for names, every attribute value in double quotes.
var conventionalTag = regexp.MustCompile(`^</?[A-Za-z-]+(\s+[A-Za-z-]+="[^"<>]*")*\s*>$`)

// unusualTag reports whether text has a tag that is not conventional.
func unusualTag(text string) bool {
	for {
		i := strings.IndexByte(text, '<')
		if i < 0 {
			return false
		}
		text = text[i:]
		j := strings.IndexByte(text[1:], '>')
		if j < 0 {
			return true
		}
		if !conventionalTag.MatchString(text[:j+2]) {
			return true
		}
		text = text[j+2:]
	}
}
