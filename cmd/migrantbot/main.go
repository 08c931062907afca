// Command migrantbot runs the migrant appeals bot: `dev` for everything on a
// developer's machine, `serve` in production, `migrate` for the schema, and
// `chat` for a terminal conversation against a database.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"migrantbot/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "migrantbot: %v\n", err)
		os.Exit(1)
	}
}

const usage = `usage: migrantbot <command>

commands:
  dev       run everything locally: a private PostgreSQL under ./.data, and a terminal chat
  serve     run the Telegram bot (DATABASE_URL and TELEGRAM_BOT_TOKEN required)
  migrate   apply pending database migrations (DATABASE_URL required)
  chat      talk to the bot in the terminal against DATABASE_URL
  staff     add --email E --role admin|reviewer | list | disable --email E | enable --email E
            | reset-totp --email E
  export    --format csv [--status S]: appeals as CSV (UTF-8 with BOM) to stdout
  content   check: report missing or too long texts, sources and review dates
  webhook   delete | info: remove or show the bot's webhook (TELEGRAM_BOT_TOKEN required)
  rotate-key  re-encrypt personal data under DATA_KEY (old keys in DATA_KEY_PREVIOUS)
  retention [--dry-run]: remove what is past its retention period now, or show what would be

environment: DATABASE_URL, TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL, STAFF_ADDR,
WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_ADDR, STAFF_CHAT_ID, CONSOLE_URL, LOG_LEVEL,
DATA_KEY, DATA_KEY_PREVIOUS, RETENTION_DRAFT_DAYS, RETENTION_CLOSED_DAYS, STAFF_TOTP
(see README.md)

With WEBHOOK_URL set, serve receives updates by webhook instead of long
polling: it registers WEBHOOK_URL with Telegram (WEBHOOK_SECRET, required, is
the secret_token Telegram sends back in every request) and listens on
WEBHOOK_ADDR (default 127.0.0.1:8443) in plain HTTP. Telegram only calls HTTPS
URLs, so put a TLS reverse proxy (nginx, Caddy, a load balancer) in front:
it terminates TLS for WEBHOOK_URL's host and forwards WEBHOOK_URL's path to
WEBHOOK_ADDR; several serve instances may sit behind it on one database.`

// errUsage is returned for a command line that names no known command.
var errUsage = errors.New("unknown command; run `migrantbot help`")

// run is the whole program; tests call it with their own arguments,
// environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, cfg, stdin, stdout, stderr)
	case "serve":
		return runServe(ctx, cfg, stderr)
	case "migrate":
		return runMigrate(ctx, cfg, stdout)
	case "chat":
		return runChat(ctx, cfg, stdin, stdout, stderr)
	case "staff":
		return runStaff(ctx, cfg, args[1:], stdout)
	case "export":
		return runExport(ctx, cfg, args[1:], stdout)
	case "content":
		return runContent(args[1:], stdout)
	case "webhook":
		return runWebhook(ctx, cfg, args[1:], stdout, stderr)
	case "rotate-key":
		return runRotateKey(ctx, cfg, stdout)
	case "retention":
		return runRetention(ctx, cfg, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("%q: %w", args[0], errUsage)
}

// config is the environment contract of DESIGN.md.
type config struct {
	DatabaseURL string
	Token       string
	APIURL      string
	StaffAddr   string
	WebhookURL  string // the public HTTPS address Telegram posts updates to; "" for long polling
	// WebhookSecret is the secret_token Telegram sends with every webhook
	// request; required with WebhookURL.
	WebhookSecret string
	// WebhookAddr is where serve listens for the webhook, behind the TLS
	// reverse proxy that WebhookURL points at; default 127.0.0.1:8443.
	WebhookAddr string
	StaffChatID int64
	ChatRate    float64 // messages a second to one chat; 0 is Telegram's 1
	Rate        float64 // messages a second in all; 0 is Telegram's 30
	// UpdateLimit is PERSON_UPDATE_LIMIT: updates one person may send in
	// 10 s; 0 for the bot's default, -1 for none ("off").
	UpdateLimit int
	ConsoleURL  string // the console's public address, for links; default http://STAFF_ADDR
	LogLevel    slog.Level
	LangCode    string // the terminal's language, from $LANG
	// Retention is the retention policy, with RETENTION_DRAFT_DAYS and
	// RETENTION_CLOSED_DAYS.
	Retention store.RetentionPolicy
	// DataKey and DataKeyPrevious are DATA_KEY and DATA_KEY_PREVIOUS as
	// given; dataKeys reads them for the commands that touch personal data.
	DataKey, DataKeyPrevious string
	// RequireTOTP is STAFF_TOTP=required: admins must use an authenticator
	// app (default optional).
	RequireTOTP bool
}

func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		DatabaseURL: getenv("DATABASE_URL"),
		Token:       strings.TrimSpace(getenv("TELEGRAM_BOT_TOKEN")),
		APIURL:      strings.TrimRight(getenv("TELEGRAM_API_URL"), "/"),
		StaffAddr:   getenv("STAFF_ADDR"),
		WebhookURL:  strings.TrimSpace(getenv("WEBHOOK_URL")),
	}
	cfg.WebhookSecret = strings.TrimSpace(getenv("WEBHOOK_SECRET"))
	cfg.DataKey, cfg.DataKeyPrevious = getenv("DATA_KEY"), getenv("DATA_KEY_PREVIOUS")
	cfg.WebhookAddr = getenv("WEBHOOK_ADDR")
	switch v := strings.TrimSpace(getenv("STAFF_TOTP")); v {
	case "", "optional":
	case "required":
		cfg.RequireTOTP = true
	default:
		return cfg, fmt.Errorf("STAFF_TOTP %q: want optional or required", v)
	}
	if cfg.WebhookAddr == "" {
		cfg.WebhookAddr = "127.0.0.1:8443"
	}
	if err := checkWebhookConfig(cfg); err != nil {
		return cfg, err
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.telegram.org"
	}
	if cfg.StaffAddr == "" {
		cfg.StaffAddr = "127.0.0.1:8080"
	}
	cfg.ConsoleURL = strings.TrimRight(getenv("CONSOLE_URL"), "/")
	if cfg.ConsoleURL == "" {
		cfg.ConsoleURL = "http://" + cfg.StaffAddr
	}
	if id := getenv("STAFF_CHAT_ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n == 0 {
			return cfg, fmt.Errorf("STAFF_CHAT_ID %q: want a Telegram chat id such as -1001234567890", id)
		}
		cfg.StaffChatID = n
	}
	for _, v := range []struct {
		name string
		into *float64
	}{{"TELEGRAM_CHAT_RATE", &cfg.ChatRate}, {"TELEGRAM_RATE", &cfg.Rate}} {
		if r := getenv(v.name); r != "" {
			n, err := strconv.ParseFloat(r, 64)
			if err != nil || n <= 0 {
				return cfg, fmt.Errorf("%s %q: want messages a second, such as 1", v.name, r)
			}
			*v.into = n
		}
	}
	switch v := getenv("PERSON_UPDATE_LIMIT"); v {
	case "":
	case "off":
		cfg.UpdateLimit = -1
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("PERSON_UPDATE_LIMIT %q: want updates per person in 10 seconds, such as 20, or off", v)
		}
		cfg.UpdateLimit = n
	}
	if lvl := getenv("LOG_LEVEL"); lvl != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return cfg, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", lvl)
		}
	}
	retention, err := loadRetention(getenv)
	if err != nil {
		return cfg, err
	}
	cfg.Retention = retention
	lang := getenv("LC_ALL")
	if lang == "" {
		lang = getenv("LANG")
	}
	cfg.LangCode, _, _ = strings.Cut(lang, ".")
	return cfg, nil
}
