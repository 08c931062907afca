package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"migrantbot"
	"migrantbot/bot"
	"migrantbot/flows"
	"migrantbot/locales"
	"migrantbot/pglocal"
	"migrantbot/store"
	"migrantbot/termchat"
)

// terminalChatID is the chat and user id of the person in the terminal chat.
// Telegram ids are far larger, so it never meets a real chat.
const terminalChatID = 1

func newEngine() (*flows.Engine, error) {
	cat, err := locales.Load()
	if err != nil {
		return nil, err
	}
	return flows.New(cat)
}

// runMigrate applies pending migrations.
func runMigrate(ctx context.Context, cfg config, stdout io.Writer) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	if err := store.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// runChat opens the terminal chat against DATABASE_URL.
func runChat(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: max(cfg.LogLevel, slog.LevelWarn)}))
	st, err := store.Open(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := newEngine()
	if err != nil {
		return err
	}
	return termchat.Run(ctx, stdin, stdout, eng.Handler(st), st, termchat.Options{ChatID: terminalChatID, LanguageCode: cfg.LangCode})
}

// runDev starts a private PostgreSQL under ./.data, migrates it, and opens the
// terminal chat; with a bot token it also serves Telegram.
func runDev(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) error {
	dataDir, err := filepath.Abs(".data")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dataDir, err)
	}
	if _, err := pglocal.FindBinDir(); err != nil {
		return err
	}
	// The chat owns the terminal, so logs go to a file beside the data.
	logFile, err := os.OpenFile(filepath.Join(dataDir, "dev.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open dev log: %w", err)
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: cfg.LogLevel}))

	fmt.Fprintln(stdout, "Starting PostgreSQL in ./.data/postgres ...")
	srv, err := pglocal.Start(ctx, filepath.Join(dataDir, "postgres"), logger, pglocal.StopWithParent())
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := srv.Stop(stopCtx); err != nil {
			fmt.Fprintf(stderr, "stop PostgreSQL: %v\n", err)
		} else {
			fmt.Fprintln(stdout, "PostgreSQL stopped.")
		}
	}()
	if err := srv.CreateDatabase(ctx, "migrantbot", ""); err != nil && !errors.Is(err, pglocal.ErrDatabaseExists) {
		return err
	}
	url := srv.URL("migrantbot")
	if err := store.Migrate(ctx, url); err != nil {
		return err
	}
	st, err := store.Open(ctx, url, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := newEngine()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Database ready: psql %q\nLogs: %s\n", url, logFile.Name())

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	if cfg.Token != "" {
		fmt.Fprintf(stdout, "Serving Telegram through %s\n", cfg.APIURL)
		g.Go(func() error { return serveTelegram(gctx, cfg, st, eng, logger) })
	}
	g.Go(func() error {
		defer cancel() // leaving the chat stops everything
		return termchat.Run(gctx, stdin, stdout, eng.Handler(st), st, termchat.Options{ChatID: terminalChatID, LanguageCode: cfg.LangCode})
	})
	return g.Wait()
}

// runServe is production: Telegram long polling and the outbox worker.
func runServe(ctx context.Context, cfg config, stderr io.Writer) error {
	switch {
	case cfg.DatabaseURL == "":
		return errors.New("DATABASE_URL is not set")
	case cfg.Token == "":
		return errors.New("TELEGRAM_BOT_TOKEN is not set")
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	eng, err := newEngine()
	if err != nil {
		return err
	}
	st, err := openWithRetry(ctx, cfg.DatabaseURL, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	logger.Info("serving", "api", cfg.APIURL)
	err = serveTelegram(ctx, cfg, st, eng, logger)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	logger.Info("stopped")
	return err
}

// openWithRetry opens the store, waiting with backoff while the database is
// not reachable, so that a bot started before its database comes up.
func openWithRetry(ctx context.Context, url string, logger *slog.Logger) (*store.Store, error) {
	wait := time.Second
	for {
		st, err := store.Open(ctx, url, logger)
		if err == nil {
			current, cerr := store.MigrationsCurrent(ctx, url)
			switch {
			case cerr != nil:
				err = cerr
			case !current:
				st.Close()
				return nil, errors.New("the database schema is not current: run `migrantbot migrate` first")
			default:
				return st, nil
			}
			st.Close()
		}
		logger.Warn("database not reachable, retrying", "error", err, "wait", wait)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait/4)))):
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// serveTelegram connects to the Bot API and runs polling and the outbox
// worker until ctx is done.
func serveTelegram(ctx context.Context, cfg config, st *store.Store, eng *flows.Engine, logger *slog.Logger) error {
	api, err := bot.Connect(ctx, cfg.APIURL, cfg.Token, &http.Client{Timeout: 75 * time.Second}, logger)
	if err != nil {
		return err
	}
	b := bot.New(api, eng.Handler(st), st, logger, bot.Options{})
	commands := map[string][]migrantbot.Command{}
	for _, lang := range eng.Languages() {
		commands[lang] = eng.Commands(lang)
	}
	if err := b.RegisterCommands(ctx, commands); err != nil {
		// The bot works without the command menu; it is tried again at the next start.
		logger.Warn("register commands", "error", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.Poll(gctx) })
	g.Go(func() error { return b.RunOutbox(gctx) })
	return g.Wait()
}
