package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Telegram's limits that the double enforces.
const (
	MaxTextLength     = 4096 // characters of a message after entity parsing, in UTF-16 code units
	MaxCallbackData   = 64   // bytes of a button's callback data
	MaxCallbackAnswer = 200  // characters of an answerCallbackQuery text
	maxButtons        = 100
	maxCommands       = 100
)

func botUser() map[string]any {
	return map[string]any{
		"id": BotID, "is_bot": true, "first_name": "Migrant Test Bot", "username": BotUsername,
		"can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false,
	}
}

func (s *Server) getMe(context.Context, map[string]string) (any, *apiError) {
	return botUser(), nil
}

// getUpdates serves the queue like Telegram: an offset confirms (and drops)
// every update below it, and with nothing to give the call waits up to
// timeout seconds for an update to arrive. A second getUpdates ends a waiting
// one with 409 Conflict, as two bot instances would.
func (s *Server) getUpdates(ctx context.Context, p map[string]string) (any, *apiError) {
	offset, _ := parseInt(p, "offset")
	limit, ok := parseInt(p, "limit")
	if !ok || limit > 100 {
		limit = 100
	}
	limit = max(limit, 1)
	timeout, _ := parseInt(p, "timeout")
	timer := time.NewTimer(time.Duration(max(timeout, 0)) * time.Second)
	defer timer.Stop()

	s.mu.Lock()
	if s.hook.url != "" {
		s.mu.Unlock()
		return nil, webhookConflict()
	}
	s.pollGen++
	gen := s.pollGen
	s.confirm(offset)
	s.broadcast() // a waiting getUpdates must see that it was superseded
	for {
		if s.hook.url != "" {
			s.mu.Unlock()
			return nil, webhookConflict()
		}
		if gen != s.pollGen {
			s.mu.Unlock()
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, &apiError{code: http.StatusConflict, benign: true,
				description: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"}
		}
		batch := s.take(int(limit))
		if len(batch) > 0 || timeout <= 0 {
			s.mu.Unlock()
			return batch, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			timeout = 0
		case <-ctx.Done():
			return nil, nil
		case <-s.closing:
			return []json.RawMessage{}, nil
		}
		s.mu.Lock()
	}
}

// confirm drops the updates that offset confirms; s.mu must be held.
func (s *Server) confirm(offset int64) {
	if offset == 0 {
		return
	}
	if offset < 0 {
		// A negative offset keeps the last -offset updates and forgets the rest.
		sortQueue(s.queue)
		if n := int(-offset); len(s.queue) > n {
			s.queue = s.queue[len(s.queue)-n:]
		}
		return
	}
	s.offset = max(s.offset, offset)
	keep := s.queue[:0]
	for _, q := range s.queue {
		if q.id >= offset || (q.redelivered && !q.sent) {
			keep = append(keep, q)
		}
	}
	clear(s.queue[len(keep):])
	s.queue = keep
}

// take returns up to limit updates to deliver; s.mu must be held.
func (s *Server) take(limit int) []json.RawMessage {
	sortQueue(s.queue)
	out := []json.RawMessage{}
	for _, q := range s.queue {
		if len(out) == limit {
			break
		}
		q.sent = true
		if cb := s.callbacks[s.cbByUpdate[q.id]]; cb != nil {
			cb.deliveries++
		}
		out = append(out, q.raw)
	}
	return out
}

func chatParam(p map[string]string) (int64, *apiError) {
	v, ok := p["chat_id"]
	if !ok || v == "" {
		return 0, badRequest("chat_id is empty")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id == 0 {
		return 0, badRequest("chat not found")
	}
	return id, nil
}

func blockedError() *apiError {
	return &apiError{code: http.StatusForbidden, description: "Forbidden: bot was blocked by the user", injected: true}
}

// checkText parses a message text as Telegram would and applies its limits.
func checkText(text, parseMode string) (string, []Entity, *apiError) {
	if !utf8.ValidString(text) {
		return "", nil, badRequest("text must be encoded in UTF-8")
	}
	plain, entities := text, []Entity(nil)
	switch strings.ToLower(parseMode) {
	case "":
	case "html":
		var err error
		plain, entities, err = ParseHTML(text)
		if err != nil {
			return "", nil, badRequest("can't parse entities: %v", err)
		}
	case "markdown", "markdownv2":
		// Not simulated: the project sends HTML only. Taken as plain text.
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
	plain, entities = trimEntities(plain, entities)
	if plain == "" {
		return "", nil, badRequest("message text is empty")
	}
	if UTF16Len(plain) > MaxTextLength {
		return "", nil, badRequest("message is too long")
	}
	return plain, entities, nil
}

// markup is a parsed reply_markup.
type markup struct {
	inline     [][]Button
	inlineJSON string // canonical form, to tell whether an edit changes it
	contact    string
	resize     bool
	oneTime    bool
	remove     bool
}

var inlineActions = []string{
	"url", "callback_data", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
	"switch_inline_query_chosen_chat", "callback_game", "pay", "web_app", "copy_text",
}

func parseMarkup(raw string, inlineOnly bool) (markup, *apiError) {
	var mk markup
	if raw == "" {
		return mk, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return mk, badRequest("can't parse reply keyboard markup JSON object")
	}
	if rows, ok := obj["inline_keyboard"]; ok {
		var kb [][]map[string]json.RawMessage
		if err := json.Unmarshal(rows, &kb); err != nil {
			return mk, badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup should be an Array of Arrays")
		}
		count := 0
		for _, row := range kb {
			var out []Button
			for _, b := range row {
				count++
				btn, aerr := parseInlineButton(b)
				if aerr != nil {
					return mk, aerr
				}
				out = append(out, btn)
			}
			if len(out) > 0 {
				mk.inline = append(mk.inline, out)
			}
		}
		if count > maxButtons {
			return mk, badRequest("reply markup is too long")
		}
		if len(mk.inline) > 0 {
			canon, _ := json.Marshal(mk.inline)
			mk.inlineJSON = string(canon)
		}
		return mk, nil
	}
	if inlineOnly {
		return mk, badRequest("inline keyboard expected")
	}
	switch {
	case obj["keyboard"] != nil:
		var kb [][]json.RawMessage
		if err := json.Unmarshal(obj["keyboard"], &kb); err != nil {
			return mk, badRequest("field \"keyboard\" of the ReplyKeyboardMarkup should be an Array of Arrays")
		}
		for _, row := range kb {
			for _, raw := range row {
				var b struct {
					Text           string `json:"text"`
					RequestContact bool   `json:"request_contact"`
				}
				if json.Unmarshal(raw, &b.Text) != nil {
					if err := json.Unmarshal(raw, &b); err != nil {
						return mk, badRequest("can't parse keyboard button: field \"text\" must be of type String")
					}
				}
				if b.Text == "" {
					return mk, badRequest("can't parse keyboard button: Text must be non-empty")
				}
				if b.RequestContact && mk.contact == "" {
					mk.contact = b.Text
				}
			}
		}
		_ = json.Unmarshal(obj["resize_keyboard"], &mk.resize)
		_ = json.Unmarshal(obj["one_time_keyboard"], &mk.oneTime)
	case obj["remove_keyboard"] != nil:
		if err := json.Unmarshal(obj["remove_keyboard"], &mk.remove); err != nil || !mk.remove {
			return mk, badRequest("field \"remove_keyboard\" of the ReplyKeyboardRemove must be true")
		}
	case obj["force_reply"] != nil:
	default:
		return mk, badRequest("can't parse reply keyboard markup JSON object")
	}
	return mk, nil
}

func parseInlineButton(b map[string]json.RawMessage) (Button, *apiError) {
	var btn Button
	rawText, ok := b["text"]
	if !ok {
		return btn, badRequest("can't parse inline keyboard button: Can't find field \"text\"")
	}
	if err := json.Unmarshal(rawText, &btn.Text); err != nil {
		return btn, badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
	}
	if btn.Text == "" {
		return btn, badRequest("can't parse inline keyboard button: Text must be non-empty")
	}
	actions := 0
	for _, a := range inlineActions {
		v, ok := b[a]
		if !ok || string(v) == "null" || string(v) == "false" {
			continue
		}
		switch a {
		case "callback_data":
			if err := json.Unmarshal(v, &btn.Data); err != nil {
				return btn, badRequest("can't parse inline keyboard button: Field \"callback_data\" must be of type String")
			}
			if btn.Data == "" {
				continue // Telegram takes an empty callback_data as no action at all
			}
			if len(btn.Data) > MaxCallbackData {
				return btn, badRequest("BUTTON_DATA_INVALID")
			}
		case "url":
			if err := json.Unmarshal(v, &btn.URL); err != nil {
				return btn, badRequest("can't parse inline keyboard button: Field \"url\" must be of type String")
			}
			if btn.URL == "" {
				continue
			}
		}
		actions++
	}
	if actions == 0 {
		return btn, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	}
	return btn, nil
}

func (s *Server) nextMessageID(chatID int64) int {
	s.msgSeq[chatID]++
	return s.msgSeq[chatID]
}

func (s *Server) chatJSON(chatID int64) map[string]any {
	if c, ok := s.chats[chatID]; ok {
		return c
	}
	if chatID > 0 {
		return map[string]any{"id": chatID, "type": "private", "first_name": "Someone"}
	}
	return map[string]any{"id": chatID, "type": "group", "title": "Group"}
}

func (s *Server) messageJSON(m *Sent) map[string]any {
	out := map[string]any{
		"message_id": m.MessageID, "from": botUser(), "chat": s.chatJSON(m.ChatID),
		"date": time.Now().Unix(), "text": m.Plain,
	}
	if len(m.Entities) > 0 {
		out["entities"] = m.Entities
	}
	if m.Edits > 0 {
		out["edit_date"] = time.Now().Unix()
	}
	if m.inlineJSON != "" {
		out["reply_markup"] = map[string]any{"inline_keyboard": inlineJSON(m.Buttons)}
	}
	return out
}

func inlineJSON(rows [][]Button) [][]map[string]string {
	out := make([][]map[string]string, 0, len(rows))
	for _, row := range rows {
		var r []map[string]string
		for _, b := range row {
			m := map[string]string{"text": b.Text}
			if b.Data != "" {
				m["callback_data"] = b.Data
			}
			if b.URL != "" {
				m["url"] = b.URL
			}
			r = append(r, m)
		}
		out = append(out, r)
	}
	return out
}

func (s *Server) sendMessage(_ context.Context, p map[string]string) (any, *apiError) {
	chatID, aerr := chatParam(p)
	if aerr != nil {
		return nil, aerr
	}
	plain, entities, aerr := checkText(p["text"], p["parse_mode"])
	if aerr != nil {
		return nil, aerr
	}
	out, aerr := s.deliver(chatID, p, &Sent{Text: p["text"], Plain: plain, Entities: entities})
	if aerr != nil {
		return nil, aerr
	}
	return out, nil
}

// deliver completes m with the request's parse mode and keyboard, adds it
// to the chat unless the person blocked the bot, and returns the message as
// the Bot API shows it.
func (s *Server) deliver(chatID int64, p map[string]string, m *Sent) (map[string]any, *apiError) {
	mk, aerr := parseMarkup(p["reply_markup"], false)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[chatID] {
		return nil, blockedError()
	}
	m.MessageID, m.ChatID, m.ParseMode = s.nextMessageID(chatID), chatID, p["parse_mode"]
	m.Buttons, m.inlineJSON = mk.inline, mk.inlineJSON
	m.ContactButton, m.ResizeKeyboard, m.OneTimeKeyboard, m.RemoveKeyboard = mk.contact, mk.resize, mk.oneTime, mk.remove
	s.sent[chatID] = append(s.sent[chatID], m)
	s.events[chatID]++
	s.broadcast()
	return s.messageJSON(m), nil
}

// MaxCaptionLength is Telegram's limit on a caption, in UTF-16 code units.
const MaxCaptionLength = 1024

// MaxUploadSize is the largest file a bot may upload to the Bot API.
const MaxUploadSize = 50 << 20

// sendDocument takes a file uploaded with multipart/form-data, as the bot
// sends one it made (a person's data export); a caption follows the rules
// of a text but within 1024 characters.
func (s *Server) sendDocument(_ context.Context, p map[string]string) (any, *apiError) {
	chatID, aerr := chatParam(p)
	if aerr != nil {
		return nil, aerr
	}
	doc, ok := p["document"]
	name := p["document#filename"]
	switch {
	case !ok || doc == "":
		return nil, badRequest("there is no document in the request")
	case name == "":
		return nil, badRequest("document: a file sent by file_id or URL is not simulated; upload it")
	case len(doc) > MaxUploadSize:
		return nil, &apiError{code: http.StatusRequestEntityTooLarge, description: "Request Entity Too Large"}
	}
	var plain string
	var entities []Entity
	if c := p["caption"]; c != "" {
		plain, entities, aerr = checkText(c, p["parse_mode"])
		if aerr != nil {
			return nil, aerr
		}
		if UTF16Len(plain) > MaxCaptionLength {
			return nil, badRequest("message caption is too long")
		}
	}
	out, aerr := s.deliver(chatID, p, &Sent{Text: p["caption"], Plain: plain, Entities: entities,
		Document: &Document{FileName: name, Data: []byte(doc)}})
	if aerr != nil {
		return nil, aerr
	}
	delete(out, "text")
	delete(out, "entities")
	out["caption"] = plain
	id := fmt.Sprint(out["message_id"])
	out["document"] = map[string]any{"file_id": "doc-" + id, "file_unique_id": "udoc-" + id,
		"file_name": name, "file_size": len(doc)}
	return out, nil
}

// editTarget finds the bot's message an edit refers to; s.mu must be held.
func (s *Server) editTarget(p map[string]string) (*Sent, *apiError) {
	if p["inline_message_id"] != "" {
		return nil, badRequest("MESSAGE_ID_INVALID")
	}
	chatID, aerr := chatParam(p)
	if aerr != nil {
		return nil, aerr
	}
	msgID, ok := parseInt(p, "message_id")
	if !ok {
		return nil, badRequest("message identifier is not specified")
	}
	if s.blocked[chatID] {
		return nil, blockedError()
	}
	for _, m := range s.sent[chatID] {
		if int64(m.MessageID) == msgID {
			return m, nil
		}
	}
	if s.userMsgs[chatID][int(msgID)] {
		return nil, badRequest("message can't be edited")
	}
	return nil, badRequest("message to edit not found")
}

func notModified() *apiError {
	e := badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	e.benign = true
	return e
}

func (s *Server) editMessageText(_ context.Context, p map[string]string) (any, *apiError) {
	plain, entities, aerr := checkText(p["text"], p["parse_mode"])
	if aerr != nil {
		return nil, aerr
	}
	mk, aerr := parseMarkup(p["reply_markup"], true)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.editTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	if m.Plain == plain && slices.Equal(m.Entities, entities) && m.inlineJSON == mk.inlineJSON {
		return nil, notModified()
	}
	m.Text, m.ParseMode, m.Plain, m.Entities = p["text"], p["parse_mode"], plain, entities
	m.Buttons, m.inlineJSON = mk.inline, mk.inlineJSON
	m.Edits++
	s.events[m.ChatID]++
	s.broadcast()
	return s.messageJSON(m), nil
}

func (s *Server) editMessageReplyMarkup(_ context.Context, p map[string]string) (any, *apiError) {
	mk, aerr := parseMarkup(p["reply_markup"], true)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, aerr := s.editTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	if m.inlineJSON == mk.inlineJSON {
		return nil, notModified()
	}
	m.Buttons, m.inlineJSON = mk.inline, mk.inlineJSON
	m.Edits++
	s.events[m.ChatID]++
	s.broadcast()
	return s.messageJSON(m), nil
}

func (s *Server) answerCallbackQuery(_ context.Context, p map[string]string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cb, ok := s.callbacks[p["callback_query_id"]]
	if !ok || cb.answered {
		e := badRequest("query is too old and response timeout expired or query ID is invalid")
		// Pushed to two instances at once, the query is answered by both;
		// neither can know of the other.
		e.benign = ok && (s.hook.twice[p["callback_query_id"]] || cb.deliveries > 1)
		return nil, e
	}
	if UTF16Len(p["text"]) > MaxCallbackAnswer {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	cb.answered, cb.text = true, p["text"]
	s.broadcast()
	return true, nil
}

var commandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

func commandsKey(scope string, chatID, userID int64, lang string) string {
	if scope == "" {
		scope = "default"
	}
	return scope + "/" + strconv.FormatInt(chatID, 10) + "/" + strconv.FormatInt(userID, 10) + "|" + lang
}

// commandsTarget reads the scope and language_code of a commands method.
func commandsTarget(p map[string]string) (string, *apiError) {
	var scope struct {
		Type   string `json:"type"`
		ChatID int64  `json:"chat_id"`
		UserID int64  `json:"user_id"`
	}
	if raw := p["scope"]; raw != "" {
		if err := json.Unmarshal([]byte(raw), &scope); err != nil {
			return "", badRequest("can't parse BotCommandScope JSON object")
		}
		switch scope.Type {
		case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
		case "chat", "chat_administrators", "chat_member":
			if scope.ChatID == 0 {
				return "", badRequest("chat not found")
			}
		default:
			return "", badRequest("unsupported bot command scope type")
		}
	}
	lang := p["language_code"]
	if lang != "" && (len(lang) != 2 || strings.ToLower(lang) != lang || !isASCIIAlnum(lang[0]) || !isASCIIAlnum(lang[1])) {
		return "", badRequest("invalid language code specified")
	}
	return commandsKey(scope.Type, scope.ChatID, scope.UserID, lang), nil
}

func (s *Server) setMyCommands(_ context.Context, p map[string]string) (any, *apiError) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	if len(cmds) > maxCommands {
		return nil, badRequest("too many commands specified")
	}
	for _, c := range cmds {
		if !commandName.MatchString(c.Command) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := utf8.RuneCountInString(c.Description); n < 1 || n > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	key, aerr := commandsTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cmds) == 0 {
		delete(s.commands, key)
	} else {
		s.commands[key] = cmds
	}
	return true, nil
}

func (s *Server) deleteMyCommands(_ context.Context, p map[string]string) (any, *apiError) {
	key, aerr := commandsTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.commands, key)
	return true, nil
}

func (s *Server) getMyCommands(_ context.Context, p map[string]string) (any, *apiError) {
	key, aerr := commandsTarget(p)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand{}, s.commands[key]...), nil
}

var chatActions = []string{
	"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
	"upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
}

func (s *Server) sendChatAction(_ context.Context, p map[string]string) (any, *apiError) {
	chatID, aerr := chatParam(p)
	if aerr != nil {
		return nil, aerr
	}
	if !slices.Contains(chatActions, p["action"]) {
		return nil, badRequest("wrong parameter action in request")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[chatID] {
		return nil, blockedError()
	}
	return true, nil
}
