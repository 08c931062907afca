package store

import (
	"context"
	"fmt"
	"time"
)

// OutboxStats reports the outbox's backlog for monitoring: how many messages
// wait to be sent (neither sent nor given up because the person blocked the
// bot) and how long the oldest of them has waited, 0 when none waits. The
// counts are of every instance's messages, since the outbox is shared.
func (s *Store) OutboxStats(ctx context.Context) (backlog int, oldest time.Duration, err error) {
	// The predicate is the one of the partial index outbox_due_idx, so the
	// count reads the index of the pending rows, not the whole history.
	var seconds float64
	err = s.pool.QueryRow(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM outbox WHERE sent_at IS NULL AND blocked_at IS NULL`).Scan(&backlog, &seconds)
	if err != nil {
		return 0, 0, fmt.Errorf("store: outbox stats: %w", err)
	}
	// A clock step between the rows' creation and now() must not report a
	// negative age.
	return backlog, time.Duration(max(seconds, 0) * float64(time.Second)), nil
}

// AppealsSubmitted returns how many appeals have been submitted, by every
// instance, since the database was created. It reads the counts that the
// appeals' triggers keep (the row where every filter is "any"), so it costs
// the same at a million appeals as at ten. Appeals are never deleted by the
// application, so the number only grows.
func (s *Store) AppealsSubmitted(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(n), 0)::bigint FROM appeal_counts
		WHERE category IS NULL AND citizenship IS NULL AND country IS NULL AND language IS NULL AND assignee_id IS NULL`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count submitted appeals: %w", err)
	}
	return n, nil
}
