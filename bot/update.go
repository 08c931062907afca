package bot

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

// Kinds of update, for logs.
const (
	kindText        = "text"
	kindCommand     = "command"
	kindButton      = "button"
	kindContact     = "contact"
	kindPhoto       = "photo"
	kindDocument    = "document"
	kindUnsupported = "unsupported"
	kindEdited      = "edited"
	kindIgnored     = "ignored" // no chat, or nothing a person did in one
)

// HandleUpdate applies one update: it maps it to a migrantbot.Input, calls
// the HandleFunc, answers the callback query if the update is one, and
// delivers the messages the handling produced. It is the one entry point
// that polling and webhooks feed.
//
// It returns an error only when the handling failed and should be tried
// again (the database is down, say); then nothing was committed and the
// callback query is left unanswered for the next try. An update that was
// already applied (EDUPLICATE), that the application refuses for good
// (EINVALID, ENOTFOUND), that panicked, or that carries nothing to handle is
// acknowledged: HandleUpdate returns nil, and a callback query is answered
// exactly once in every one of these cases.
func (b *Bot) HandleUpdate(ctx context.Context, tu tgbotapi.Update) (err error) {
	start := time.Now()
	u, in, kind := b.toInput(tu, start)
	cq := tu.CallbackQuery
	answered := false
	answer := func(text string) {
		if cq != nil && !answered {
			answered = true
			b.answerCallback(ctx, cq.ID, text, u)
		}
	}
	outcome := "handled"
	defer func() {
		// A panic is acknowledged rather than retried: the same update would
		// panic again and stall its chat for good.
		if r := recover(); r != nil {
			outcome, err = "panic", nil
			b.logger.Error("bot: panic while handling an update",
				"update", u.ID, "chat", u.ChatID, "kind", kind, "panic", panicSummary(r), "stack", string(debug.Stack()))
			answer("")
		}
		level := slog.LevelInfo
		if err != nil {
			level = slog.LevelWarn
		}
		d := time.Since(start)
		b.logger.Log(ctx, level, "bot: update",
			"update", u.ID, "chat", u.ChatID, "kind", kind, "duration", d, "outcome", outcome)
		b.opt.Observer.Update(kind, outcome, d)
	}()

	if kind == kindIgnored {
		outcome = "ignored"
		answer("")
		return nil
	}
	switch b.flood.admit(u.ChatID, start, writtenAt(tu)) {
	case warn:
		// The person is told to slow down; what they sent is not kept.
		outcome = "limited"
		in = migrantbot.Input{Kind: migrantbot.InputLimited, Now: in.Now, LanguageCode: in.LanguageCode, Group: in.Group}
	case dropped:
		outcome = "limited"
		answer("")
		return nil
	}
	h, herr := b.handle(ctx, u, in)
	switch code := migrantbot.ErrorCode(herr); {
	case herr == nil:
		answer(h.Notice)
		b.Deliver(ctx, h.Outgoing)
	case code == migrantbot.EDUPLICATE:
		outcome = "duplicate"
		answer("")
	case code == migrantbot.EINVALID || code == migrantbot.ENOTFOUND:
		outcome = "refused"
		b.logger.Error("bot: update refused for good", "update", u.ID, "chat", u.ChatID, "code", code)
		answer("")
	default:
		outcome = "failed"
		return fmt.Errorf("bot: handle update %d: %w", u.ID, herr)
	}
	return nil
}

// panicSummary describes a recovered panic without the values it may carry,
// which could hold what a person wrote. Runtime errors (nil dereference,
// index out of range) describe only the code.
func panicSummary(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("%T", r)
}

// answerCallback answers a callback query, which stops the spinner on the
// person's button. text is cut to Telegram's 200 characters.
func (b *Bot) answerCallback(ctx context.Context, id, text string, u migrantbot.Update) {
	_, err := b.with(ctx).Request(tgbotapi.NewCallback(id, truncate(text, 200)))
	b.observeSend(ctx, err)
	if err != nil {
		// An answer that comes too late is refused; the person only saw a
		// spinner for longer, so it is not worth more than a debug line.
		b.logger.Debug("bot: answer callback query", "update", u.ID, "chat", u.ChatID, "error", b.scrub(err).Error())
	}
}

// truncate cuts s to at most n UTF-16 code units, ending with an ellipsis
// when it cut.
func truncate(s string, n int) string {
	if countUnits(s) <= n {
		return s
	}
	units := 0
	for i, r := range s {
		if units+utf16.RuneLen(r) > n-1 {
			return s[:i] + "…"
		}
		units += utf16.RuneLen(r)
	}
	return s
}

func countUnits(s string) int {
	n := 0
	for _, r := range s {
		n += max(utf16.RuneLen(r), 1)
	}
	return n
}

// personMessage is the message a person sent or edited in an update, nil
// for other updates.
func personMessage(tu tgbotapi.Update) *tgbotapi.Message {
	if tu.Message != nil {
		return tu.Message
	}
	return tu.EditedMessage
}

// toInput maps a Telegram update to the domain's update and input.
func (b *Bot) toInput(tu tgbotapi.Update, now time.Time) (migrantbot.Update, migrantbot.Input, string) {
	u := migrantbot.Update{ID: int64(tu.UpdateID)}
	in := migrantbot.Input{Now: now}
	m := personMessage(tu)
	switch {
	case m != nil:
	case tu.CallbackQuery != nil:
		cq := tu.CallbackQuery
		// A button on an inline message has no chat to answer in.
		if cq.Message == nil || cq.Message.Chat == nil || cq.From == nil {
			return u, in, kindIgnored
		}
		u.ChatID, u.UserID = cq.Message.Chat.ID, cq.From.ID
		in.Kind, in.Data, in.MessageID = migrantbot.InputButton, cq.Data, cq.Message.MessageID
		in.LanguageCode, in.Group = cq.From.LanguageCode, !cq.Message.Chat.IsPrivate()
		return u, in, kindButton
	default:
		// Channel posts, inline queries, chat member changes, polls...: not
		// something a person said to the bot in a chat.
		return u, in, kindIgnored
	}
	if m.Chat == nil {
		return u, in, kindIgnored
	}
	u.ChatID = m.Chat.ID
	if m.From != nil {
		u.UserID, in.LanguageCode = m.From.ID, m.From.LanguageCode
	}
	in.Group = !m.Chat.IsPrivate()
	if tu.EditedMessage != nil {
		in.Kind = migrantbot.InputEdited
		in.Text = m.Text
		if in.Text == "" {
			in.Text = m.Caption
		}
		return u, in, kindEdited
	}
	return u, in, b.messageInput(m, &in)
}

// messageInput fills in from a new message and returns its kind.
func (b *Bot) messageInput(m *tgbotapi.Message, in *migrantbot.Input) string {
	switch {
	// Animations come with a document too, so they are checked first.
	case m.Sticker != nil, m.Voice != nil, m.Audio != nil, m.Video != nil, m.VideoNote != nil,
		m.Animation != nil, m.Location != nil, m.Venue != nil, m.Poll != nil, m.Dice != nil, m.Game != nil:
		in.Kind = migrantbot.InputUnsupported
		return kindUnsupported
	case m.Contact != nil:
		in.Kind, in.Phone = migrantbot.InputContact, m.Contact.PhoneNumber
		in.OwnContact = m.From != nil && m.Contact.UserID != 0 && m.Contact.UserID == m.From.ID
		return kindContact
	case len(m.Photo) > 0:
		p := largestPhoto(m.Photo)
		in.Kind, in.Text = migrantbot.InputFile, m.Caption
		in.File = &migrantbot.Attachment{
			FileID: p.FileID, FileUniqueID: p.FileUniqueID, Kind: "photo", Size: int64(p.FileSize),
			Caption: m.Caption, MediaGroupID: m.MediaGroupID,
		}
		return kindPhoto
	case m.Document != nil:
		d := m.Document
		in.Kind, in.Text = migrantbot.InputFile, m.Caption
		in.File = &migrantbot.Attachment{
			FileID: d.FileID, FileUniqueID: d.FileUniqueID, Kind: "document", Size: int64(d.FileSize),
			FileName: d.FileName, MimeType: d.MimeType, Caption: m.Caption, MediaGroupID: m.MediaGroupID,
		}
		return kindDocument
	case m.Text != "":
		if name, rest, ok := b.command(m.Text); ok {
			in.Kind, in.Command, in.Text = migrantbot.InputCommand, name, rest
			return kindCommand
		}
		in.Kind, in.Text = migrantbot.InputText, m.Text
		return kindText
	default:
		// Service messages and kinds this library version does not know.
		in.Kind = migrantbot.InputUnsupported
		return kindUnsupported
	}
}

// command parses "/name@bot rest". A command addressed to another bot is not
// one of ours and reads as text.
func (b *Bot) command(text string) (name, rest string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	word, rest := text[1:], ""
	if i := strings.IndexFunc(word, unicode.IsSpace); i >= 0 {
		word, rest = word[:i], strings.TrimSpace(word[i:])
	}
	name, to, addressed := strings.Cut(word, "@")
	if name == "" {
		return "", "", false
	}
	if addressed && b.api.Self.UserName != "" && !strings.EqualFold(to, b.api.Self.UserName) {
		return "", "", false
	}
	return strings.ToLower(name), rest, true
}

// largestPhoto picks the biggest of the sizes Telegram offers of a photo.
func largestPhoto(sizes []tgbotapi.PhotoSize) tgbotapi.PhotoSize {
	best := sizes[0]
	for _, p := range sizes[1:] {
		if p.Width*p.Height > best.Width*best.Height || (p.Width*p.Height == best.Width*best.Height && p.FileSize > best.FileSize) {
			best = p
		}
	}
	return best
}
