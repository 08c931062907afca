package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// claimLease is how long a message claimed by Due stays with its claimer. If
// the claimer reports neither MarkSent nor Retry in that time (it crashed),
// the message becomes due again.
const claimLease = time.Minute

// maxReasonBytes bounds the delivery error kept with a message.
const maxReasonBytes = 1000

// Due claims up to limit messages whose time to be tried has come, oldest
// first. A claimed message is not due again for a minute, for this or any
// other instance, so the caller must report MarkSent or Retry within that
// time. Each claim counts as an attempt.
func (s *Store) Due(ctx context.Context, limit int) ([]migrantbot.Outgoing, error) {
	return s.claim(ctx, limit, 0)
}

// DueFor claims up to limit due messages of one chat, oldest first, like Due.
// The terminal chat of dev reads its messages from the office with it.
func (s *Store) DueFor(ctx context.Context, chatID int64, limit int) ([]migrantbot.Outgoing, error) {
	return s.claim(ctx, limit, chatID)
}

// claim claims due messages of chatID, or of every chat when chatID is 0.
func (s *Store) claim(ctx context.Context, limit int, chatID int64) ([]migrantbot.Outgoing, error) {
	if limit <= 0 {
		return nil, migrantbot.Errorf(migrantbot.EINVALID, "outbox limit %d is not positive", limit)
	}
	// SKIP LOCKED lets instances claim disjoint sets without waiting on each
	// other; the CTE restores the id order that UPDATE ... RETURNING lacks.
	rows, err := s.pool.Query(ctx, `WITH claimed AS (
			UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + $2::bigint * interval '1 microsecond'
			WHERE id IN (
				SELECT id FROM outbox
				WHERE sent_at IS NULL AND blocked_at IS NULL AND next_attempt_at <= now()
					AND ($3::bigint = 0 OR chat_id = $3)
				ORDER BY id LIMIT $1
				FOR UPDATE SKIP LOCKED)
			RETURNING id, chat_id, payload)
		SELECT id, chat_id, payload FROM claimed ORDER BY id`, limit, claimLease.Microseconds(), chatID)
	if err != nil {
		return nil, fmt.Errorf("store: claim due messages: %w", err)
	}
	type row struct {
		id, chatID int64
		payload    []byte
	}
	claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.id, &x.chatID, &x.payload)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim due messages: %w", err)
	}
	out := make([]migrantbot.Outgoing, 0, len(claimed))
	for _, r := range claimed {
		var m migrantbot.Message
		payload, err := s.openJSON(r.payload)
		if err == nil {
			err = json.Unmarshal(payload, &m)
		}
		if err != nil {
			// One unreadable row must not block the others; it comes back
			// after the lease and is logged again.
			s.logger.Error("store: unreadable outbox message", "outbox", r.id, "chat", r.chatID, "err", err)
			continue
		}
		out = append(out, migrantbot.Outgoing{ID: r.id, ChatID: r.chatID, Message: m})
	}
	return out, nil
}

// MarkSent records that message id reached Telegram, and that its chat is
// reachable: a person marked as having blocked the bot is not any more.
// Marking a message sent twice keeps the first time. Returns ENOTFOUND if
// there is no such message.
//
// The mark commits without waiting for the disk (synchronous_commit off for
// this statement's transaction only): it is written for every message, and
// a database crash can then lose only the last marks of a fraction of a
// second, whose messages are sent once more after the restart. Nothing a
// person said or was promised rides on it.
func (s *Store) MarkSent(ctx context.Context, id int64) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH sent AS (
			UPDATE outbox SET sent_at = now(), blocked_at = NULL, last_error = '' WHERE id = $1 AND sent_at IS NULL
			RETURNING chat_id),
		reachable AS (
			UPDATE users SET blocked_at = NULL WHERE blocked_at IS NOT NULL AND chat_id IN (SELECT chat_id FROM sent))
		SELECT count(*) FROM sent CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) quick`, id).Scan(&n)
	if err != nil {
		return fmt.Errorf("store: mark message %d sent: %w", id, err)
	}
	if n == 0 {
		return s.outboxExists(ctx, id, "mark message %d sent")
	}
	return nil
}

// Blocked records that message id cannot be delivered because the person
// blocked the bot: the message is not tried again, and the person of its
// chat is marked blocked until a message reaches them. reason is kept as
// the message's last error. A message already sent or blocked stays as it
// is. Returns ENOTFOUND if there is no such message.
func (s *Store) Blocked(ctx context.Context, id int64, reason string) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH blocked AS (
			UPDATE outbox SET blocked_at = now(), last_error = $2 WHERE id = $1 AND sent_at IS NULL AND blocked_at IS NULL
			RETURNING chat_id),
		person AS (
			UPDATE users SET blocked_at = now() WHERE blocked_at IS NULL AND chat_id IN (SELECT chat_id FROM blocked))
		SELECT count(*) FROM blocked`, id, truncate(reason, maxReasonBytes)).Scan(&n)
	if err != nil {
		return fmt.Errorf("store: mark message %d blocked: %w", id, err)
	}
	if n == 0 {
		return s.outboxExists(ctx, id, "mark message %d blocked")
	}
	return nil
}

// Retry schedules message id to be tried again after wait, keeping reason
// (a delivery error, without personal data) for the staff. A message already
// sent stays sent, one blocked stays blocked. Returns ENOTFOUND if there is
// no such message.
func (s *Store) Retry(ctx context.Context, id int64, wait time.Duration, reason string) error {
	wait = max(wait, 0)
	reason = truncate(reason, maxReasonBytes)
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET next_attempt_at = now() + $2::bigint * interval '1 microsecond', last_error = $3
		WHERE id = $1 AND sent_at IS NULL AND blocked_at IS NULL`, id, wait.Microseconds(), reason)
	if err != nil {
		return fmt.Errorf("store: retry message %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return s.outboxExists(ctx, id, "retry message %d")
	}
	return nil
}

// outboxExists tells an already sent or blocked message (nil) from a missing one
// (ENOTFOUND), after an update that changed no row.
func (s *Store) outboxExists(ctx context.Context, id int64, doing string) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE id = $1)`, id).Scan(&exists); err != nil {
		return fmt.Errorf("store: "+doing+": %w", id, err)
	}
	if !exists {
		return fmt.Errorf("store: "+doing+": %w", id, migrantbot.Errorf(migrantbot.ENOTFOUND, "no outbox message %d", id))
	}
	return nil
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
