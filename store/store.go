// Package store keeps the bot's data in PostgreSQL. It is the only package
// that speaks SQL: it applies each update as one transaction (the unit of work
// that makes updates exactly-once and serializes each chat), keeps the durable
// outbox, and reads appeals and sessions.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"migrantbot"
)

// Store is the PostgreSQL implementation of the domain's storage interfaces.
// It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// The interfaces of the domain that Store implements.
var (
	_ migrantbot.Conversations = (*Store)(nil)
	_ migrantbot.Outbox        = (*Store)(nil)
)

// Open connects to the database at databaseURL and checks that it answers.
// It returns an error when it does not; the caller retries with backoff.
func Open(ctx context.Context, databaseURL string, logger *slog.Logger, opts ...Option) (*Store, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors hide the password of the URL.
		return nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	// A connection that hangs (a server starting up, a lost packet) is given
	// up and tried again rather than waited for without end.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if c.tracer != nil {
		cfg.ConnConfig.Tracer = c.tracer
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", describe(cfg), err)
	}
	return &Store{pool: pool, logger: logger}, nil
}

// describe names the database of cfg for messages, without secrets.
func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("database %q as %q on %s", cfg.ConnConfig.Database, cfg.ConnConfig.User, cfg.ConnConfig.Host)
}

// Close closes every connection of the store.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Pool returns the connection pool, for tests that need to look at rows
// directly. Application code goes through the methods of Store.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// notFound converts pgx.ErrNoRows into the domain's ENOTFOUND error.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return migrantbot.Errorf(migrantbot.ENOTFOUND, format, args...)
	}
	return err
}

// notFoundAs converts pgx.ErrNoRows into an error of the given code, for a
// missing row that makes a request invalid rather than not found.
func notFoundAs(err error, code, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return migrantbot.Errorf(code, format, args...)
	}
	return err
}
