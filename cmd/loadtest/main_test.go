package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"migrantbot/store/storetest"
)

func TestMain(m *testing.M) {
	// run starts this test binary again as the bot process.
	if os.Getenv(envRole) == "bot" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := runBot(ctx, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadtest bot: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(storetest.Main(m))
}

// TestLoadRunCompletes runs the load command small, against its own
// PostgreSQL and against a given one, in both modes, and checks that every
// person's appeal is in the database once and that every figure of the
// report was measured.
func TestLoadRunCompletes(t *testing.T) {
	tests := []struct {
		name string
		// args gets -database when given is true.
		args        []string
		given       bool
		wantUpdates int64
	}{
		{
			name:        "own server, closed loop",
			args:        []string{"-people", "5", "-concurrency", "3"},
			wantUpdates: 5 * int64(len(appealDialog)),
		},
		{
			name:        "given database, open loop, open dialogs",
			args:        []string{"-people", "5", "-rate", "40", "-open-dialogs", "30"},
			given:       true,
			wantUpdates: 5 * int64(len(appealDialog)-openDialogStep),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-json", "-pgbench-scale", "1", "-pgbench-time", "2"}, tc.args...)
			var dbURL string
			if tc.given {
				dbURL = storetest.NewDatabase(t)
				args = append(args, "-database", dbURL)
				t.Cleanup(func() { dropDatabase(t, dbURL, "_pgbench") })
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
			if err != nil {
				t.Fatalf("run: %v\nstderr:\n%s\nstdout:\n%s", err, &stderr, &stdout)
			}
			var r report
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
				t.Fatalf("report is not JSON: %v\n%s", err, &stdout)
			}
			if r.Updates != tc.wantUpdates || r.Sent != tc.wantUpdates {
				t.Errorf("updates handled %d, sent %d, want %d", r.Updates, r.Sent, tc.wantUpdates)
			}
			if r.Appeals != 5 || r.Missing != 0 || r.Duplicated != 0 || r.Rejected != 0 || len(r.Problems) > 0 {
				t.Errorf("appeals %d, missing %d, duplicated %d, rejected %d, problems %q; want 5, 0, 0, 0, none",
					r.Appeals, r.Missing, r.Duplicated, r.Rejected, r.Problems)
			}
			positive := map[string]float64{
				"updates/s": r.UpdatesPerSec, "handling p50": float64(r.Handle.P50), "handling p99": float64(r.Handle.P99),
				"with delivery p50": float64(r.Full.P50), "end to end p50": float64(r.EndToEnd.P50),
				"round trips per update": r.RoundTripsPerUpdate, "peak memory": float64(r.PeakMemory),
			}
			if r.Pgbench == nil {
				t.Errorf("no pgbench result")
			} else {
				positive["pgbench tps"], positive["ratio"] = r.Pgbench.TPS, r.Ratio
			}
			for name, v := range positive {
				if !(v > 0) {
					t.Errorf("%s = %v, want a positive number", name, v)
				}
			}
			if r.Handle.P99 < r.Handle.P50 || r.EndToEnd.P99 < r.EndToEnd.P50 {
				t.Errorf("p99 below p50: handling %v < %v, end to end %v < %v", r.Handle.P99, r.Handle.P50, r.EndToEnd.P99, r.EndToEnd.P50)
			}
			// Each update is at least its transaction's BEGIN, one batch and COMMIT.
			if r.RoundTripsPerUpdate < 3 {
				t.Errorf("round trips per update %.2f, want at least 3 (BEGIN, the statements, COMMIT): %v", r.RoundTripsPerUpdate, r.RoundTrips)
			}
			if !tc.given {
				return
			}
			// The database, read independently of the command.
			conn, err := pgx.Connect(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			ids := make([]int64, r.People)
			for i := range ids {
				ids[i] = r.FirstPerson + int64(i)*r.Stride
			}
			counts := map[int64]int{}
			rows, _ := conn.Query(context.Background(), `SELECT user_id, count(*) FROM appeals WHERE user_id = ANY($1) GROUP BY user_id`, ids)
			var id int64
			var n int
			if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { counts[id] = n; return nil }); err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if counts[id] != 1 {
					t.Errorf("person %d has %d appeals, want 1", id, counts[id])
				}
			}
			var open int
			if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE chat_id >= $1 AND chat_id < $1 + 30`, r.FirstPerson).Scan(&open); err != nil || open != 30 {
				t.Errorf("seeded sessions: %d (%v), want 30", open, err)
			}
		})
	}
}

// dropDatabase drops the database named after the one at dbURL with suffix.
func dropDatabase(t *testing.T, dbURL, suffix string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Errorf("parse %q: %v", dbURL, err)
		return
	}
	name := cfg.Database + suffix
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Errorf("connect to drop %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no people", []string{"-people", "0"}, "-people"},
		{"no concurrency", []string{"-concurrency", "0"}, "-concurrency"},
		{"negative rate", []string{"-rate", "-1"}, "-rate"},
		{"fewer open dialogs than people", []string{"-people", "10", "-open-dialogs", "5"}, "-open-dialogs"},
		{"async commit on a given database", []string{"-async-commit", "-database", "postgres://x@/y"}, "-async-commit"},
		{"stray argument", []string{"now"}, "unexpected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, func(string) string { return "" }, &bytes.Buffer{}, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
