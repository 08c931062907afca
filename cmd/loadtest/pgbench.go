package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"migrantbot/pglocal"
)

// pgbenchResult is what pgbench -N measured.
type pgbenchResult struct {
	Command string  `json:"command"`
	TPS     float64 `json:"tps"`
	// LatencyMS is pgbench's average latency of a transaction.
	LatencyMS float64 `json:"latency_ms"`
}

// pgbenchPath finds pgbench beside the server binaries, the way pglocal
// finds initdb (it comes in the same package); where the bin directory
// holds links, as /usr/local/bin may, beside the real initdb.
func pgbenchPath() (string, error) {
	dir, err := pglocal.FindBinDir()
	if err != nil {
		return "", err
	}
	dirs := []string{dir}
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "initdb")); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "pgbench")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("pgbench not found beside initdb in %s (it comes with the PostgreSQL server packages)", strings.Join(dirs, ", "))
}

var (
	tpsLine     = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((without initial connection time|excluding connections establishing)\)`)
	latencyLine = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

// runPgbench loads pgbench's tables at scale into the database at url and
// runs its simple-update transaction (-N: no updates of the branch and
// teller rows, so clients do not queue behind each other on them) with
// clients clients on 2 threads for seconds seconds.
func runPgbench(ctx context.Context, url string, scale, clients, seconds int) (pgbenchResult, error) {
	bin, err := pgbenchPath()
	if err != nil {
		return pgbenchResult{}, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-i", "-q", "-s", strconv.Itoa(scale), url).CombinedOutput(); err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench -i: %w\n%s", err, lastLines(out))
	}
	threads := min(2, clients)
	args := []string{"-N", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads), "-T", strconv.Itoa(seconds)}
	out, err := exec.CommandContext(ctx, bin, append(args, url)...).CombinedOutput()
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench: %w\n%s", err, lastLines(out))
	}
	r := pgbenchResult{Command: fmt.Sprintf("pgbench -N -c %d -j %d -T %d (scale %d)", clients, threads, seconds, scale)}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		return r, errors.New("pgbench printed no tps line:\n" + lastLines(out))
	}
	r.TPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := latencyLine.FindSubmatch(out); m != nil {
		r.LatencyMS, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return r, nil
}

func lastLines(out []byte) string {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-10):], []byte("\n")))
}
