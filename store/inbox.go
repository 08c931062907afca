package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// DueFor claims up to limit due messages of one chat, oldest first, like Due.
// The terminal chat of dev reads its messages from the office with it.
func (s *Store) DueFor(ctx context.Context, chatID int64, limit int) ([]migrantbot.Outgoing, error) {
	rows, err := s.pool.Query(ctx, `WITH claimed AS (
			UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + $3::bigint * interval '1 microsecond'
			WHERE id IN (
				SELECT id FROM outbox
				WHERE chat_id = $1 AND sent_at IS NULL AND blocked_at IS NULL AND next_attempt_at <= now()
				ORDER BY id LIMIT $2
				FOR UPDATE SKIP LOCKED)
			RETURNING id, chat_id, payload)
		SELECT id, chat_id, payload FROM claimed ORDER BY id`, chatID, limit, claimLease.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("store: claim due messages of chat %d: %w", chatID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (migrantbot.Outgoing, error) {
		var o migrantbot.Outgoing
		var payload []byte
		if err := r.Scan(&o.ID, &o.ChatID, &payload); err != nil {
			return o, err
		}
		return o, json.Unmarshal(payload, &o.Message)
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim due messages of chat %d: %w", chatID, err)
	}
	return out, nil
}
