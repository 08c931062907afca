package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"
)

// User is a simulated person. A private chat's id is the person's id.
type User struct {
	ID           int64
	FirstName    string
	LanguageCode string
}

func (u User) json() map[string]any {
	out := map[string]any{"id": u.ID, "is_bot": false, "first_name": u.FirstName}
	if u.LanguageCode != "" {
		out["language_code"] = u.LanguageCode
	}
	return out
}

// privateChat registers and returns the private chat with u; s.mu must be held.
func (s *Server) privateChat(u User) map[string]any {
	c := map[string]any{"id": u.ID, "type": "private", "first_name": u.FirstName}
	s.chats[u.ID] = c
	return c
}

// userMessage builds a message from u in chat; s.mu must be held.
func (s *Server) userMessage(chat map[string]any, u User) map[string]any {
	chatID := chat["id"].(int64)
	id := s.nextMessageID(chatID)
	if s.userMsgs[chatID] == nil {
		s.userMsgs[chatID] = map[int]bool{}
	}
	s.userMsgs[chatID][id] = true
	return map[string]any{"message_id": id, "from": u.json(), "chat": chat, "date": time.Now().Unix()}
}

// enqueueLocked adds an update, giving it the next update_id unless it has
// one, and remembers the callback query it carries; s.mu must be held.
func (s *Server) enqueueLocked(update map[string]any) int64 {
	id := int64(0)
	switch v := update["update_id"].(type) {
	case int64:
		id = v
	case int:
		id = int64(v)
	case float64:
		id = int64(v)
	case json.Number:
		id, _ = v.Int64()
	}
	if id == 0 {
		id = s.nextUpdate
	}
	s.nextUpdate = max(s.nextUpdate, id+1)
	update["update_id"] = id
	raw, err := json.Marshal(update)
	if err != nil {
		panic(fmt.Sprintf("telegramtest: marshal update: %v", err))
	}
	s.updates[id] = raw
	s.queue = append(s.queue, &queued{id: id, raw: raw})
	s.armCallback(id, update)
	s.broadcast()
	return id
}

// armCallback records the callback query of an update as waiting for its
// answer; s.mu must be held.
func (s *Server) armCallback(updateID int64, update map[string]any) {
	cq, ok := update["callback_query"].(map[string]any)
	if !ok {
		return
	}
	cbID := fmt.Sprint(cq["id"])
	if _, known := s.callbacks[cbID]; !known {
		s.cbOrder = append(s.cbOrder, cbID)
	}
	s.callbacks[cbID] = &callbackState{}
	s.cbByUpdate[updateID] = cbID
}

func (s *Server) send(u User, fill func(msg map[string]any)) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg := s.userMessage(s.privateChat(u), u)
	fill(msg)
	return s.enqueueLocked(map[string]any{"message": msg})
}

// SendText enqueues a text message from u in the private chat and returns its
// update_id. A text starting with "/" carries a bot_command entity.
func (s *Server) SendText(u User, text string) int64 {
	return s.send(u, func(msg map[string]any) { setText(msg, text) })
}

func setText(msg map[string]any, text string) {
	msg["text"] = text
	if strings.HasPrefix(text, "/") {
		cmd, _, _ := strings.Cut(text, " ")
		cmd, _, _ = strings.Cut(cmd, "\n")
		msg["entities"] = []map[string]any{{"type": "bot_command", "offset": 0, "length": UTF16Len(cmd)}}
	}
}

// SendContact enqueues a shared contact; own makes it u's own contact (its
// user_id is u's id), as the contact button shares it.
func (s *Server) SendContact(u User, phone string, own bool) int64 {
	return s.send(u, func(msg map[string]any) {
		contact := map[string]any{"phone_number": phone, "first_name": u.FirstName}
		if own {
			contact["user_id"] = u.ID
		}
		msg["contact"] = contact
	})
}

// SendPhoto enqueues a photo in three sizes, with a caption and the media
// group id of an album ("" for a single photo). The largest size's file id
// is "photo-N" with N its sequence number, and its size is 150000 bytes.
func (s *Server) SendPhoto(u User, caption, mediaGroupID string) int64 {
	return s.send(u, func(msg map[string]any) {
		var sizes []map[string]any
		for _, sz := range []struct {
			side int
			size int64
		}{{90, 1500}, {320, 20000}, {1280, 150000}} {
			id, uid := s.newFile("photo", sz.size, ".jpg")
			sizes = append(sizes, map[string]any{"file_id": id, "file_unique_id": uid, "width": sz.side, "height": sz.side, "file_size": sz.size})
		}
		msg["photo"] = sizes
		if caption != "" {
			msg["caption"] = caption
		}
		if mediaGroupID != "" {
			msg["media_group_id"] = mediaGroupID
		}
	})
}

// SendDocument enqueues a document.
func (s *Server) SendDocument(u User, fileName, mime string, size int64, caption string) int64 {
	return s.send(u, func(msg map[string]any) {
		id, uid := s.newFile("document", size, fileExt(fileName))
		msg["document"] = map[string]any{"file_id": id, "file_unique_id": uid, "file_name": fileName, "mime_type": mime, "file_size": size}
		if caption != "" {
			msg["caption"] = caption
		}
	})
}

// fileExt is the extension Telegram keeps in the path of a document named
// name: letters and digits only, "" when there is none.
func fileExt(name string) string {
	ext := path.Ext(name)
	if len(ext) < 2 || len(ext) > 10 {
		return ""
	}
	for _, r := range ext[1:] {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return ""
		}
	}
	return strings.ToLower(ext)
}

// SendSticker enqueues a sticker.
func (s *Server) SendSticker(u User) int64 {
	return s.send(u, func(msg map[string]any) {
		id, uid := s.newFile("sticker", 20000, ".webp")
		msg["sticker"] = map[string]any{"file_id": id, "file_unique_id": uid, "width": 512, "height": 512, "is_animated": false, "emoji": "👍"}
	})
}

// SendVoice enqueues a voice message.
func (s *Server) SendVoice(u User) int64 {
	return s.send(u, func(msg map[string]any) {
		id, uid := s.newFile("voice", 12000, ".oga")
		msg["voice"] = map[string]any{"file_id": id, "file_unique_id": uid, "duration": 3, "mime_type": "audio/ogg", "file_size": 12000}
	})
}

// SendLocation enqueues a shared location.
func (s *Server) SendLocation(u User) int64 {
	return s.send(u, func(msg map[string]any) {
		msg["location"] = map[string]any{"latitude": 40.4093, "longitude": 49.8671}
	})
}

// EditText enqueues an edited_message: u changed the text of their message
// messageID.
func (s *Server) EditText(u User, messageID int, text string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().Unix()
	msg := map[string]any{"message_id": messageID, "from": u.json(), "chat": s.privateChat(u), "date": now - 60, "edit_date": now}
	setText(msg, text)
	return s.enqueueLocked(map[string]any{"edited_message": msg})
}

// SendGroupText enqueues a text message from u in a group; ids at or below
// -1000000000000 are supergroups.
func (s *Server) SendGroupText(groupID int64, u User, text string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind := "group"
	if groupID <= -1000000000000 {
		kind = "supergroup"
	}
	chat := map[string]any{"id": groupID, "type": kind, "title": "Test group"}
	s.chats[groupID] = chat
	msg := s.userMessage(chat, u)
	setText(msg, text)
	return s.enqueueLocked(map[string]any{"message": msg})
}

// Press enqueues the callback query of u pressing the button labelled
// buttonText on the latest bot message with inline buttons in u's private
// chat. It fails the test when there is no such button; call it from the
// test's goroutine.
func (s *Server) Press(tb testing.TB, u User, buttonText string) int64 {
	tb.Helper()
	s.mu.Lock()
	msgs := s.sent[u.ID]
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if len(m.Buttons) == 0 {
			continue
		}
		for _, row := range m.Buttons {
			for _, b := range row {
				if b.Text == buttonText && b.Data != "" {
					s.mu.Unlock()
					return s.PressData(u, m.MessageID, b.Data)
				}
			}
		}
		s.mu.Unlock()
		tb.Fatalf("telegramtest: chat %d: no button %q on the latest message with buttons (#%d): %v", u.ID, buttonText, m.MessageID, m.Buttons)
		return 0
	}
	s.mu.Unlock()
	tb.Fatalf("telegramtest: chat %d: no bot message with buttons to press %q:\n%s", u.ID, buttonText, describe(s.Messages(u.ID)))
	return 0
}

// PressData enqueues the callback query of u pressing a button with data on
// message messageID, which may be an old message or one that never existed.
func (s *Server) PressData(u User, messageID int, data string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	chat := s.privateChat(u)
	msg := map[string]any{"message_id": messageID, "from": botUser(), "chat": chat, "date": time.Now().Unix(), "text": ""}
	for _, m := range s.sent[u.ID] {
		if m.MessageID == messageID {
			msg = s.messageJSON(m)
		}
	}
	s.cbSeq++
	return s.enqueueLocked(map[string]any{"callback_query": map[string]any{
		"id":            fmt.Sprintf("cb%d-%d", u.ID, s.cbSeq),
		"from":          u.json(),
		"message":       msg,
		"chat_instance": fmt.Sprintf("ci%d", u.ID),
		"data":          data,
	}})
}

// Enqueue adds a raw update: a map[string]any, a json.RawMessage, []byte,
// string or any value that marshals to an update object. Without an
// update_id it gets the next one. It returns the update_id.
func (s *Server) Enqueue(update any) int64 {
	var m map[string]any
	switch v := update.(type) {
	case map[string]any:
		m = v
	default:
		var raw []byte
		switch v := update.(type) {
		case json.RawMessage:
			raw = v
		case []byte:
			raw = v
		case string:
			raw = []byte(v)
		default:
			var err error
			if raw, err = json.Marshal(v); err != nil {
				panic(fmt.Sprintf("telegramtest: Enqueue: %v", err))
			}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			panic(fmt.Sprintf("telegramtest: Enqueue: %v", err))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enqueueLocked(m)
}

// Redeliver delivers update updateID again with the same update_id, even if
// the bot already confirmed it, as Telegram does after a bot crashed before
// moving its offset. A callback query in it waits for an answer again.
func (s *Server) Redeliver(updateID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.updates[updateID]
	if !ok {
		panic(fmt.Sprintf("telegramtest: Redeliver: no update %d", updateID))
	}
	s.queue = append(s.queue, &queued{id: updateID, raw: raw, redelivered: true})
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		s.armCallback(updateID, m)
	}
	s.broadcast()
}
