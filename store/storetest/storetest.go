// Package storetest gives tests of any package a real PostgreSQL database.
//
// Every test gets a fresh, migrated database of its own (a copy of a template
// migrated once per test binary), so tests may run in parallel. The server is
// the one of TEST_DATABASE_URL when it is set (its user must be allowed to
// create databases); otherwise one throwaway server per test binary is started
// from the installed PostgreSQL binaries, fast and without durability, and
// removed at the end. When neither can be had, the test fails: it never skips.
//
// A package using it stops the throwaway server after its tests with
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
//
// (Without it, on Linux, the server still stops when the test binary exits,
// and its directory is removed by the next run.)
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"migrantbot/pglocal"
	"migrantbot/sealed"
	"migrantbot/store"
)

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "TEST_DATABASE_URL"

// setupTimeout bounds starting the server and migrating the template.
const setupTimeout = 3 * time.Minute

// cluster is the test binary's database server. It is package state, unlike
// everything else in the project, because a test binary has one lifetime and
// its tests share one server; Main ends it.
var cluster clusterState

type clusterState struct {
	once sync.Once
	err  error

	adminURL string // the maintenance database, where databases are created
	// urlOf turns a database name into its URL.
	urlOf    func(name string) string
	template string
	prefix   string // unique per test binary, so binaries can share a server
	external bool   // the server of TEST_DATABASE_URL, not ours

	server  *pglocal.Server
	tempDir string

	counter atomic.Int64
}

// Main runs the tests and then stops the throwaway server, if one was
// started, and returns the exit code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	cluster.shutdown()
	return code
}

// NewDatabase returns the URL of a fresh database with every migration
// applied. The database is dropped after the test.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, true)
}

// NewEmptyDatabase returns the URL of a fresh database without migrations,
// for tests of the migrations themselves.
func NewEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, false)
}

// NewStore opens a store on a fresh migrated database, with the test
// binary's data key, and closes it after the test.
func NewStore(tb testing.TB) *store.Store {
	tb.Helper()
	return OpenStore(tb, NewDatabase(tb), Keys(tb))
}

// OpenStore opens a store on the database at url with the keyring keys (a
// rotation test passes its own), and closes it after the test.
func OpenStore(tb testing.TB, url string, keys *sealed.Keyring, opts ...store.Option) *store.Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, url, slog.New(slog.DiscardHandler), append([]store.Option{store.WithKeys(keys)}, opts...)...)
	if err != nil {
		tb.Fatalf("storetest: open store: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// dataKey is the test binary's data key: random, made once, so that every
// store and command of one test binary reads what the others wrote.
var dataKey = sync.OnceValues(sealed.NewKey)

// DataKey returns the test binary's data key in the base64 form of
// DATA_KEY, for tests that run the commands with an environment.
func DataKey(tb testing.TB) string {
	tb.Helper()
	k, err := dataKey()
	if err != nil {
		tb.Fatalf("storetest: data key: %v", err)
	}
	return k
}

// Keys returns the keyring of the test binary's data key.
func Keys(tb testing.TB) *sealed.Keyring {
	tb.Helper()
	k, err := sealed.Parse(DataKey(tb), "")
	if err != nil {
		tb.Fatalf("storetest: data key: %v", err)
	}
	return k
}

func newDatabase(tb testing.TB, migrated bool) string {
	tb.Helper()
	cluster.once.Do(cluster.setup)
	if cluster.err != nil {
		if cluster.external {
			tb.Fatalf("storetest: no PostgreSQL for tests: the server of %s: %v\n"+
				"Fix %s (its user must be allowed to CREATE DATABASE), or unset it to have the tests start "+
				"a throwaway server from the installed binaries (apt-get install postgresql)", EnvURL, cluster.err, EnvURL)
		}
		tb.Fatalf("storetest: no PostgreSQL for tests: %v\n"+
			"Install the server binaries so a throwaway server can be started (apt-get install postgresql), "+
			"or set %s to a server where this user may CREATE DATABASE, e.g. postgres://postgres@/postgres?host=/var/run/postgresql",
			cluster.err, EnvURL)
	}
	name := fmt.Sprintf("%s_%d", cluster.prefix, cluster.counter.Add(1))
	template := "template0"
	if migrated {
		template = cluster.template
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cluster.exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(template)); err != nil {
		tb.Fatalf("storetest: create database %s: %v", name, err)
	}
	// Dropping keeps a long test run within the memory of /dev/shm, and an
	// external server clean.
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends sessions a test left open, such as a pool closed later.
		if err := cluster.exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	return cluster.urlOf(name)
}

// setup finds or starts the server and migrates the template database.
func (c *clusterState) setup() {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	c.prefix = fmt.Sprintf("test_%d_%s", os.Getpid(), hex.EncodeToString(suffix[:]))
	c.template = c.prefix + "_template"

	if env := os.Getenv(EnvURL); env != "" {
		if _, err := pgconn.ParseConfig(env); err != nil {
			c.err = fmt.Errorf("%s: %w", EnvURL, err)
			return
		}
		c.external = true
		c.adminURL = env
		c.urlOf = func(name string) string { return withDatabase(env, name) }
	} else {
		if c.err = c.startServer(ctx); c.err != nil {
			return
		}
	}
	if err := c.exec(ctx, "CREATE DATABASE "+ident(c.template)+" TEMPLATE template0"); err != nil {
		c.err = fmt.Errorf("create template database: %w", err)
		return
	}
	if err := store.Migrate(ctx, c.urlOf(c.template)); err != nil {
		c.err = fmt.Errorf("migrate template database: %w", err)
		return
	}
}

func (c *clusterState) startServer(ctx context.Context) error {
	base := scratchDir()
	removeAbandoned(base)
	dir, err := os.MkdirTemp(base, "storetest-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	c.tempDir = dir
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	// Warnings only: the notes of a normal start would clutter test output.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := pglocal.Start(ctx, filepath.Join(dir, "data"), logger, pglocal.Fast(), pglocal.StopWithParent())
	if err != nil {
		return err
	}
	c.server = srv
	c.adminURL = srv.URL("postgres")
	c.urlOf = srv.URL
	return nil
}

func (c *clusterState) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, c.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func (c *clusterState) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if c.external && c.err == nil && c.template != "" {
		if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+ident(c.template)+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "storetest: drop template database: %v\n", err)
		}
	}
	if c.server != nil {
		if err := c.server.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		}
	}
	if c.tempDir != "" {
		os.RemoveAll(c.tempDir)
	}
}

// withDatabase returns rawURL with its database replaced by name. Both URL
// and keyword/value connection strings are handled.
func withDatabase(rawURL, name string) string {
	if u, err := url.Parse(rawURL); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		u.RawPath = ""
		q := u.Query()
		if q.Has("dbname") {
			q.Set("dbname", name)
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	// Keyword/value form: a later dbname overrides an earlier one.
	return rawURL + " dbname=" + quoteValue(name)
}

func quoteValue(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// ownerFile holds the process id of the test binary that owns a throwaway
// server's directory.
const ownerFile = "owner.pid"

// removeAbandoned deletes the directories of throwaway servers whose test
// binary died without cleaning up (killed by a timeout, say); the server
// itself stopped with it. Left alone, they would fill /dev/shm run after run.
func removeAbandoned(base string) {
	if base == "" {
		base = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "storetest-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or still being set up
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 || processExists(pid) {
			continue
		}
		os.RemoveAll(dir)
	}
}
