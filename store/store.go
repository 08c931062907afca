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
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"migrantbot"
	"migrantbot/sealed"
)

// Store is the PostgreSQL implementation of the domain's storage interfaces.
// It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// keys seals the personal columns on write and opens them on read; see
	// seal and open.
	keys *sealed.Keyring
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
	if c.keys == nil {
		return nil, errors.New("store: no data key: personal data is encrypted at rest, so the store needs store.WithKeys (DATA_KEY)")
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
	// pgxpool's default is one connection per core (at least 4), fewer than
	// the bot's workers, the outbox worker and the console need at once; a
	// pool_max_conns in the URL still decides.
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = max(cfg.MaxConns, 16)
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
	return &Store{pool: pool, logger: logger, keys: c.keys}, nil
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

// Personal data at rest.
//
// Every personal column is stored sealed (AES-256-GCM, see package sealed):
// appeals' surname, first_name, patronymic, city, address, description,
// phone and email; attachments' file_name and caption; thread_entries' text
// and attachment; referrals' name and note; sessions' data and outbox's
// payload (whole JSON documents). Code of this package that writes one of
// them passes the value through seal (or sealJSON for a jsonb column), and
// code that reads one passes it through open (or openJSON); nothing else
// changes: the empty string stays empty, and a plain value written before encryption reads
// as it is (a rotation seals it later). appeals.search holds keyed tokens of
// the names and the description, made by searchTokens; a write that changes
// those columns writes search too.

// seal returns the stored form of a personal value: sealed under the
// current data key, or the empty string for the empty string. Its error never holds the value.
func (s *Store) seal(v string) (string, error) {
	out, err := s.keys.Seal(v)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return out, nil
}

// open returns the plain text of a personal column as stored: decrypted
// when sealed, as it is when plain (written before encryption). It fails
// for a value sealed under a key the store lacks or tampered with; the
// error never holds the value.
func (s *Store) open(v string) (string, error) {
	out, err := s.keys.Open(v)
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	return out, nil
}

// sealJSON returns the stored form of a JSON document for a personal jsonb
// column (a JSON string holding the sealed document); nil stays nil, for a
// NULL.
func (s *Store) sealJSON(doc []byte) ([]byte, error) {
	if doc == nil {
		return nil, nil
	}
	out, err := s.keys.SealJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return out, nil
}

// openJSON returns the JSON document of a personal jsonb column as stored:
// decrypted when sealed, as it is when plain; nil (NULL) stays nil.
func (s *Store) openJSON(stored []byte) ([]byte, error) {
	if stored == nil {
		return nil, nil
	}
	out, err := s.keys.OpenJSON(stored)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return out, nil
}

// openAll opens each personal value in place, stopping at the first
// failure.
func (s *Store) openAll(vs ...*string) error {
	for _, v := range vs {
		if *v == "" {
			continue
		}
		plain, err := s.open(*v)
		if err != nil {
			return err
		}
		*v = plain
	}
	return nil
}

// sealAll seals each personal value in place, stopping at the first
// failure.
func (s *Store) sealAll(vs ...*string) error {
	for _, v := range vs {
		sealed, err := s.seal(*v)
		if err != nil {
			return err
		}
		*v = sealed
	}
	return nil
}

// searchTokens returns the appeals.search document of an appeal's names and
// description: the keyed tokens of their words, as a text array for
// array_to_tsvector. Words of the plain text are folded and split in Go (the
// database sees only tokens), so a search for a word finds it whatever its
// case; prefixes of words are not found.
func (s *Store) searchTokens(surname, firstName, patronymic, description string) []string {
	return s.keys.Tokens(surname + " " + firstName + " " + patronymic + " " + description)
}
