package store

import (
	"context"
	"fmt"

	"migrantbot"
)

// Session returns the saved dialog state of a chat. Returns ENOTFOUND if the
// chat has none.
func (s *Store) Session(ctx context.Context, chatID int64) (migrantbot.Session, error) {
	var (
		userID  int64
		data    []byte
		version int64
	)
	err := s.pool.QueryRow(ctx, `SELECT user_id, data, version FROM sessions WHERE chat_id = $1`, chatID).
		Scan(&userID, &data, &version)
	if err != nil {
		return migrantbot.Session{}, fmt.Errorf("store: session of chat %d: %w", chatID, notFound(err, "no session of chat %d", chatID))
	}
	session, err := s.decodeSession(chatID, userID, data, version)
	if err != nil {
		return migrantbot.Session{}, fmt.Errorf("store: session of chat %d: %w", chatID, err)
	}
	return session, nil
}
