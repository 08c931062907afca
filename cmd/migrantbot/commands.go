package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"migrantbot"
	"migrantbot/bot"
	"migrantbot/console"
	"migrantbot/flows"
	"migrantbot/locales"
	"migrantbot/metrics"
	"migrantbot/pglocal"
	"migrantbot/sealed"
	"migrantbot/store"
	"migrantbot/termchat"
)

// terminalChatID is the chat and user id of the person in the terminal chat.
// Telegram ids are far larger, so it never meets a real chat.
const terminalChatID = 1

func newEngine(cfg config) (*flows.Engine, error) {
	// A text missing or too long is found at start, not by a person mid-dialog.
	if problems := locales.Check(locales.Files()); len(problems) > 0 {
		return nil, fmt.Errorf("content check: %d problems, the first: %s (run `migrantbot content check`)", len(problems), problems[0])
	}
	cat, err := locales.Load()
	if err != nil {
		return nil, err
	}
	return flows.New(cat, flows.Options{StaffChatID: cfg.StaffChatID, ConsoleURL: cfg.ConsoleURL,
		// The privacy notice tells the periods in force.
		RetentionDraftDays:  int(cfg.Retention.DraftAge / (24 * time.Hour)),
		RetentionClosedDays: int(cfg.Retention.ClosedAge / (24 * time.Hour))})
}

// devAdmin creates the local admin account on the first run of dev and
// prints its login; the password is kept in ./.data for the next runs.
func devAdmin(ctx context.Context, st *store.Store, dataDir string, cfg config, stdout io.Writer) error {
	const email = "admin@localhost"
	path := filepath.Join(dataDir, "admin-password")
	if _, _, err := st.StaffByEmail(ctx, email); err == nil {
		password, _ := os.ReadFile(path)
		fmt.Fprintf(stdout, "Staff console: %s  login %s  password %s\n", cfg.ConsoleURL, email, strings.TrimSpace(string(password)))
		return nil
	} else if migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
		return err
	}
	password, err := addStaff(ctx, st, email, migrantbot.RoleAdmin, false)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("keep the dev admin password: %w", err)
	}
	fmt.Fprintf(stdout, "Staff console: %s  login %s  password %s (kept in %s)\n", cfg.ConsoleURL, email, password, path)
	return nil
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
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: max(cfg.LogLevel, slog.LevelWarn)}))
	st, _, err := openKeyedStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := newEngine(cfg)
	if err != nil {
		return err
	}
	return termchat.Run(ctx, stdin, stdout, eng.Handler(st), st, termchat.Options{ChatID: terminalChatID, LanguageCode: cfg.LangCode, Inbox: st})
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
	keys, err := devDataKey(cfg, dataDir, stdout)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, url, logger, store.WithKeys(keys))
	if err != nil {
		return err
	}
	defer st.Close()
	eng, err := newEngine(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Database ready: psql %q\nLogs: %s\n", url, logFile.Name())

	if err := devAdmin(ctx, st, dataDir, cfg, stdout); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	files := &fileSource{}
	m := metrics.New(st, logger)
	g.Go(func() error { return serveConsole(gctx, cfg, url, st, eng, files, m, logger) })
	g.Go(func() error { return runRetentionJob(gctx, st, cfg.Retention, logger) })
	if cfg.Token != "" {
		fmt.Fprintf(stdout, "Serving Telegram through %s\n", cfg.APIURL)
		g.Go(func() error { return serveTelegram(gctx, cfg, st, eng, files, m, logger) })
	}
	g.Go(func() error {
		defer cancel() // leaving the chat stops everything
		return termchat.Run(gctx, stdin, stdout, eng.Handler(st), st, termchat.Options{ChatID: terminalChatID, LanguageCode: cfg.LangCode, Inbox: st})
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
	keys, err := dataKeys(cfg)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	eng, err := newEngine(cfg)
	if err != nil {
		return err
	}
	st, err := openWithRetry(ctx, cfg.DatabaseURL, keys, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	logger.Info("serving", "api", cfg.APIURL, "staff_addr", cfg.StaffAddr)
	files := &fileSource{}
	g, gctx := errgroup.WithContext(ctx)
	m := metrics.New(st, logger)
	g.Go(func() error { return serveConsole(gctx, cfg, cfg.DatabaseURL, st, eng, files, m, logger) })
	g.Go(func() error { return serveTelegram(gctx, cfg, st, eng, files, m, logger) })
	g.Go(func() error { return runRetentionJob(gctx, st, cfg.Retention, logger) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	logger.Info("stopped")
	return err
}

// serveConsole serves the staff console, and m's /metrics, on STAFF_ADDR
// until ctx is done.
func serveConsole(ctx context.Context, cfg config, dbURL string, st *store.Store, eng *flows.Engine, files migrantbot.FileSource, m *metrics.Metrics, logger *slog.Logger) error {
	handler := console.New(console.Deps{
		Store: st, Notifier: eng, Files: files, Logger: logger,
		Secure: strings.HasPrefix(cfg.ConsoleURL, "https://"), BaseURL: cfg.ConsoleURL, Now: time.Now,
		RequireTOTP: cfg.RequireTOTP,
		Ready: func(ctx context.Context) error {
			if err := st.Ping(ctx); err != nil {
				return err
			}
			current, err := store.MigrationsCurrent(ctx, dbURL)
			if err == nil && !current {
				err = errors.New("the database schema is behind: run `migrantbot migrate`")
			}
			return err
		},
	})
	srv := &http.Server{Addr: cfg.StaffAddr, Handler: withMetrics(handler, m), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", cfg.StaffAddr)
	if err != nil {
		return fmt.Errorf("staff console: listen on %s: %w", cfg.StaffAddr, err)
	}
	go func() {
		<-ctx.Done()
		shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("staff console: %w", err)
	}
	return nil
}

// fileSource hands the console's file requests to the bot once it is connected.
type fileSource struct {
	mu  sync.Mutex
	bot *bot.Bot
}

func (f *fileSource) set(b *bot.Bot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bot = b
}

// OpenFile implements migrantbot.FileSource.
func (f *fileSource) OpenFile(ctx context.Context, fileID string) (io.ReadCloser, string, int64, error) {
	f.mu.Lock()
	b := f.bot
	f.mu.Unlock()
	if b == nil {
		return nil, "", 0, migrantbot.Errorf(migrantbot.ENOTFOUND, "files are not available: the bot is not connected to Telegram")
	}
	return b.OpenFile(ctx, fileID)
}

// openWithRetry opens the store, waiting with backoff while the database is
// not reachable, so that a bot started before its database comes up.
func openWithRetry(ctx context.Context, url string, keys *sealed.Keyring, logger *slog.Logger) (*store.Store, error) {
	wait := time.Second
	for {
		st, err := store.Open(ctx, url, logger, store.WithKeys(keys))
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

// serveTelegram connects to the Bot API and runs polling (or, with
// WEBHOOK_URL, the webhook) and the outbox worker until ctx is done. Once
// connected, the bot serves files to the console.
func serveTelegram(ctx context.Context, cfg config, st *store.Store, eng *flows.Engine, files *fileSource, m *metrics.Metrics, logger *slog.Logger) error {
	api, err := bot.Connect(ctx, cfg.APIURL, cfg.Token, &http.Client{Timeout: 75 * time.Second}, logger)
	if err != nil {
		return err
	}
	b := bot.New(api, eng.Handler(st), st, logger, bot.Options{APIURL: cfg.APIURL, ChatRate: cfg.ChatRate, Rate: cfg.Rate, UpdateLimit: cfg.UpdateLimit, Observer: m})
	files.set(b)
	commands := map[string][]migrantbot.Command{}
	for _, lang := range eng.Languages() {
		commands[lang] = eng.Commands(lang)
	}
	if err := b.RegisterCommands(ctx, commands); err != nil {
		// The bot works without the command menu; it is tried again at the next start.
		logger.Warn("register commands", "error", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	if cfg.WebhookURL != "" {
		g.Go(func() error { return serveWebhook(gctx, cfg, b, logger) })
	} else {
		g.Go(func() error { return b.Poll(gctx) })
	}
	g.Go(func() error { return b.RunOutbox(gctx) })
	return g.Wait()
}

// runContent checks the texts and the rights information, as the tests do.
func runContent(args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "check" {
		return errors.New("usage: migrantbot content check")
	}
	problems := locales.Check(locales.Files())
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("content check: %d problems", len(problems))
	}
	cat, err := locales.Load()
	if err != nil {
		return err
	}
	topics := 0
	for _, c := range cat.Rights.Categories {
		topics += len(c.Topics)
	}
	fmt.Fprintf(stdout, "content OK: %d languages (%s), %d categories, %d topics\n",
		len(cat.Languages), strings.Join(cat.Languages, ", "), len(cat.Rights.Categories), topics)
	return nil
}
