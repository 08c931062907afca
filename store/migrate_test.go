package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"migrantbot/migrations"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

func TestMigrateTwiceIsNoOp(t *testing.T) {
	ctx := t.Context()
	url := storetest.NewEmptyDatabase(t)

	current, err := store.MigrationsCurrent(ctx, url)
	if err != nil {
		t.Fatalf("MigrationsCurrent before: %v", err)
	}
	if current {
		t.Errorf("MigrationsCurrent on an empty database: got true, want false")
	}
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	first := appliedVersions(t, url)
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if second := appliedVersions(t, url); second != first {
		t.Errorf("version rows after the second Migrate: got %d, want %d", second, first)
	}
	if want := migrationFiles(t) + 1; first != want { // goose adds a version 0 row
		t.Errorf("version rows: got %d, want %d", first, want)
	}
	current, err = store.MigrationsCurrent(ctx, url)
	if err != nil {
		t.Fatalf("MigrationsCurrent after: %v", err)
	}
	if !current {
		t.Errorf("MigrationsCurrent after Migrate: got false, want true")
	}
}

func TestMigrateConcurrently(t *testing.T) {
	ctx := t.Context()
	url := storetest.NewEmptyDatabase(t)
	const n = 2
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = store.Migrate(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if got, want := appliedVersions(t, url), migrationFiles(t)+1; got != want {
		t.Errorf("version rows: got %d, want %d", got, want)
	}
	// The schema is usable.
	s, err := store.Open(ctx, url, nil, store.WithKeys(storetest.Keys(t)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := s.AppealsOf(ctx, 1); err != nil {
		t.Errorf("AppealsOf on the migrated database: %v", err)
	}
}

func appliedVersions(tb testing.TB, url string) int {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM goose_db_version WHERE is_applied`).Scan(&n); err != nil {
		tb.Fatalf("count versions: %v", err)
	}
	return n
}

func migrationFiles(tb testing.TB) int {
	tb.Helper()
	entries, err := migrations.FS.ReadDir(".")
	if err != nil {
		tb.Fatalf("read migrations: %v", err)
	}
	return len(entries)
}
