package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/jackc/pgx/v5"

	"migrantbot/migrations"
)

// Migrate applies the pending migrations of the migrations package to the
// database at databaseURL. Several processes may migrate the same database at
// once: a PostgreSQL advisory lock lets one of them work while the others
// wait, and then find nothing left to do. Migrating an up-to-date database
// changes nothing.
func Migrate(ctx context.Context, databaseURL string) error {
	provider, closeDB, err := newProvider(databaseURL)
	if err != nil {
		return err
	}
	defer closeDB()
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// MigrationsCurrent reports whether the database at databaseURL has every
// migration applied. On a database that was never migrated it creates goose's
// empty version table and reports false.
func MigrationsCurrent(ctx context.Context, databaseURL string) (bool, error) {
	provider, closeDB, err := newProvider(databaseURL)
	if err != nil {
		return false, err
	}
	defer closeDB()
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("store: check migrations: %w", err)
	}
	return !pending, nil
}

func newProvider(databaseURL string) (*goose.Provider, func(), error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// Poll for the lock every second rather than goose's default five: a
	// second instance should not wait long for a migration that takes
	// milliseconds. Ten minutes in all covers a slow migration.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("store: migration lock: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("store: migrations: %w", err)
	}
	return provider, func() { closeQuietly(db) }, nil
}

func closeQuietly(db *sql.DB) { _ = db.Close() }
