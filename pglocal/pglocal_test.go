package pglocal_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot/pglocal"
)

func TestFindBinDir(t *testing.T) {
	dir, err := pglocal.FindBinDir()
	if err != nil {
		t.Fatalf("FindBinDir: %v", err)
	}
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("FindBinDir = %s, which lacks %s: %v", dir, name, err)
		}
	}
}

func TestStartStopReuse(t *testing.T) {
	ctx := t.Context()
	dataDir := filepath.Join(t.TempDir(), "data")

	srv := start(t, dataDir)
	exec(t, srv.URL("postgres"), "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
	if err := srv.CreateDatabase(ctx, "app", ""); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	if err := srv.CreateDatabase(ctx, "app", ""); !errors.Is(err, pglocal.ErrDatabaseExists) {
		t.Errorf("CreateDatabase twice: got %v, want ErrDatabaseExists", err)
	}
	if err := srv.CreateDatabase(ctx, "app_copy", "app"); err != nil {
		t.Fatalf("CreateDatabase from template: %v", err)
	}
	exec(t, srv.URL("app_copy"), "SELECT 1")
	stop(t, srv)
	if err := srv.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	// The second start reuses the cluster: the table is still there.
	srv = start(t, dataDir)
	if got := queryInt(t, srv.URL("postgres"), "SELECT n FROM kept"); got != 42 {
		t.Errorf("kept value after restart: got %d, want 42", got)
	}
	stop(t, srv)

	log, err := os.ReadFile(filepath.Join(filepath.Dir(dataDir), "postgres.log"))
	if err != nil {
		t.Fatalf("server log: %v", err)
	}
	if n := strings.Count(string(log), "=== pglocal: starting PostgreSQL"); n != 2 {
		t.Errorf("server log holds %d starts, want 2", n)
	}
}

// TestStartStopsLeftover plays a `dev` that was killed without stopping its
// server: the next Start on the same directory stops the old server and
// starts its own.
func TestStartStopsLeftover(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	old := start(t, dataDir)
	exec(t, old.URL("postgres"), "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")

	srv := start(t, dataDir)
	if got := queryInt(t, srv.URL("postgres"), "SELECT n FROM kept"); got != 7 {
		t.Errorf("kept value: got %d, want 7", got)
	}
	if err := old.Stop(t.Context()); err != nil {
		t.Errorf("Stop of the replaced server: %v", err)
	}
	// Stopping the old handle must not have touched the new server.
	if got := queryInt(t, srv.URL("postgres"), "SELECT 1"); got != 1 {
		t.Errorf("SELECT 1 after stopping the old handle: got %d", got)
	}
	stop(t, srv)
}

// TestStartLongPath checks that a data directory too deep for a unix socket
// address gets its socket in a short directory instead.
func TestStartLongPath(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60), "data")
	srv := start(t, dataDir)
	if got := queryInt(t, srv.URL("postgres"), "SELECT 1"); got != 1 {
		t.Errorf("SELECT 1: got %d", got)
	}
	if strings.Contains(srv.URL("postgres"), strings.Repeat("d", 60)) {
		t.Errorf("URL %s uses the long data directory for its socket", srv.URL("postgres"))
	}
	stop(t, srv)
}

func TestStartRejectsForeignDirectory(t *testing.T) {
	dataDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dataDir, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := pglocal.Start(t.Context(), dataDir, testLogger(t), pglocal.Fast())
	if err == nil {
		stop(t, srv)
		t.Fatal("Start on a non-empty directory without a cluster succeeded")
	}
	if !strings.Contains(err.Error(), "not empty") {
		t.Errorf("got %q, want an error saying the directory is not empty", err)
	}
}

func start(tb testing.TB, dataDir string) *pglocal.Server {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pglocal.Start(ctx, dataDir, testLogger(tb), pglocal.Fast(), pglocal.StopWithParent())
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv
}

func stop(tb testing.TB, srv *pglocal.Server) {
	tb.Helper()
	if err := srv.Stop(context.Background()); err != nil {
		tb.Fatalf("Stop: %v", err)
	}
}

func exec(tb testing.TB, url, sql string) {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		tb.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		tb.Fatalf("exec %q: %v", sql, err)
	}
}

func queryInt(tb testing.TB, url, sql string) int {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		tb.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		tb.Fatalf("query %q: %v", sql, err)
	}
	return n
}

func testLogger(tb testing.TB) *slog.Logger {
	tb.Helper()
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends log lines to the test's log, shown on failure or with -v.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
