package pglocal

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrNotInstalled is returned when no directory holding the PostgreSQL server
// binaries (initdb, pg_ctl, postgres) can be found.
var ErrNotInstalled = errors.New("PostgreSQL server binaries not found (looked in PATH, pg_config --bindir, /usr/lib/postgresql/*/bin); install them with: apt-get install postgresql")

// serverBinaries are the programs a usable bin directory must hold.
var serverBinaries = []string{"initdb", "pg_ctl", "postgres"}

// FindBinDir returns the directory of the PostgreSQL server binaries. It looks,
// in order, beside `initdb` on PATH, in `pg_config --bindir`, and in
// /usr/lib/postgresql/*/bin (highest version first), and returns
// ErrNotInstalled when none holds initdb, pg_ctl and postgres.
func FindBinDir() (string, error) {
	var candidates []string
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
		// Debian links /usr/local/bin/initdb and friends to the versioned
		// directory; the real directory works even if a sibling link is missing.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			candidates = append(candidates, filepath.Dir(real))
		}
	}
	if dir := pgConfigBinDir(); dir != "" {
		candidates = append(candidates, dir)
	}
	candidates = append(candidates, debianBinDirs()...)
	for _, dir := range candidates {
		if hasServerBinaries(dir) {
			if abs, err := filepath.Abs(dir); err == nil {
				return abs, nil
			}
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

// pgConfigBinDir asks pg_config for its bin directory; "" when it cannot.
// pg_config often comes with the client package alone (libpq-dev), so its
// answer is only a candidate that still has to hold the server binaries.
func pgConfigBinDir() string {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// debianBinDirs lists /usr/lib/postgresql/<version>/bin, highest version first.
func debianBinDirs() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		if err != nil {
			return -1
		}
		return v
	}
	sort.SliceStable(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return matches
}

func hasServerBinaries(dir string) bool {
	for _, name := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}
