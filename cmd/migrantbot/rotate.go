package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"migrantbot/sealed"
	"migrantbot/store"
)

// dataKeys reads the keyring from DATA_KEY and DATA_KEY_PREVIOUS. Its error
// is one line that names the variable and what is wrong, never a key.
func dataKeys(cfg config) (*sealed.Keyring, error) {
	if strings.TrimSpace(cfg.DataKey) == "" {
		return nil, errors.New("DATA_KEY is not set: personal data is encrypted at rest; set it to 32 random bytes in base64 (openssl rand -base64 32)")
	}
	k, err := sealed.Parse(cfg.DataKey, cfg.DataKeyPrevious)
	if err != nil {
		// sealed's errors name the variable and the problem, not the value.
		return nil, errors.New(strings.TrimPrefix(err.Error(), "sealed: "))
	}
	return k, nil
}

// devDataKey returns dev's keyring: DATA_KEY when set, otherwise the key kept
// in dataDir/data-key, made on the first run (readable by its owner only).
func devDataKey(cfg config, dataDir string, stdout io.Writer) (*sealed.Keyring, error) {
	if strings.TrimSpace(cfg.DataKey) != "" {
		return dataKeys(cfg)
	}
	path := filepath.Join(dataDir, "data-key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := sealed.NewKey()
		if err != nil {
			return nil, err
		}
		// O_EXCL: two dev runs started at once must not make two keys.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("keep the dev data key: %w", err)
		}
		if _, err := f.WriteString(key + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("keep the dev data key: %w", err)
		}
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("keep the dev data key: %w", err)
		}
		fmt.Fprintf(stdout, "Data key made and kept in %s\n", path)
		b = []byte(key)
	} else if err != nil {
		return nil, fmt.Errorf("read the dev data key: %w", err)
	}
	cfg.DataKey = string(b)
	k, err := dataKeys(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// runRotateKey re-encrypts every personal value not sealed under DATA_KEY
// (sealed under a key of DATA_KEY_PREVIOUS, or plain from before
// encryption) and recomputes the search tokens, in small transactions so
// the bot keeps running, and prints what it changed per table. Run again,
// it changes nothing.
func runRotateKey(ctx context.Context, cfg config, stdout io.Writer) error {
	st, keys, err := openKeyedStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "re-encrypting under key %s\n", keys.CurrentID())
	counts, err := st.Rotate(ctx)
	for _, c := range counts {
		fmt.Fprintf(stdout, "%s: %d rows re-encrypted\n", c.Table, c.Rows)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "every personal value is sealed under the current key; the previous keys may be dropped")
	return nil
}

// openKeyedStore opens the store of DATABASE_URL with the keys of DATA_KEY,
// for the commands that read or write personal data outside serve and dev.
// logger may be nil.
func openKeyedStore(ctx context.Context, cfg config, logger *slog.Logger) (*store.Store, *sealed.Keyring, error) {
	if cfg.DatabaseURL == "" {
		return nil, nil, errors.New("DATABASE_URL is not set")
	}
	keys, err := dataKeys(cfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, cfg.DatabaseURL, logger, store.WithKeys(keys))
	return st, keys, err
}
