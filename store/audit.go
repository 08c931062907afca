package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// Sizes of audit log reads.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// Audit appends an entry to the audit log, at the database's time (e.At is
// ignored). Actor and Action are required (EINVALID). The log is
// append-only: the database refuses to change or delete its rows.
func (s *Store) Audit(ctx context.Context, e migrantbot.AuditEntry) error {
	if e.Actor == "" || e.Action == "" {
		return fmt.Errorf("store: audit: %w", migrantbot.Errorf(migrantbot.EINVALID, "an audit entry needs an actor and an action"))
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (actor, action, target, detail, ip) VALUES ($1, $2, $3, $4, $5)`,
		e.Actor, e.Action, e.Target, e.Detail, e.IP)
	if err != nil {
		return fmt.Errorf("store: audit %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit returns the newest entries of the audit log, newest first, of
// the given actor, action and target; an empty one matches any. limit is 100
// when not positive, at most 1000.
func (s *Store) ListAudit(ctx context.Context, actor, action, target string, limit int) ([]migrantbot.AuditEntry, error) {
	return s.FindAudit(ctx, migrantbot.AuditFilter{Actor: actor, Action: action, Target: target, Limit: limit})
}

// FindAudit returns the entries of the audit log that match the filter,
// newest first: actor, action and target compared exactly, at from From
// (inclusive) to To (exclusive), and IDs below Before, the cursor of the next
// page (the ID of the last entry of a page). A zero field matches anything.
// Limit is 100 when not positive, at most 1000.
func (s *Store) FindAudit(ctx context.Context, f migrantbot.AuditFilter) ([]migrantbot.AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	var q listQuery
	for _, c := range []struct{ column, value string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.value != "" {
			q.conds = append(q.conds, c.column+" = "+q.arg(c.value))
		}
	}
	if !f.From.IsZero() {
		q.conds = append(q.conds, "at >= "+q.arg(f.From))
	}
	if !f.To.IsZero() {
		q.conds = append(q.conds, "at < "+q.arg(f.To))
	}
	if f.Before > 0 {
		q.conds = append(q.conds, "id < "+q.arg(f.Before))
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, target, detail, ip FROM audit_log`+q.where()+`
		ORDER BY id DESC LIMIT `+q.arg(limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[migrantbot.AuditEntry])
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return list, nil
}
