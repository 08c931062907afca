package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"migrantbot/bot"
)

// webhookSecret is what Telegram accepts as a secret_token.
var webhookSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// checkWebhookConfig refuses a webhook configuration Telegram would refuse or
// that would let anyone post updates.
func checkWebhookConfig(cfg config) error {
	if cfg.WebhookURL == "" {
		return nil
	}
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("WEBHOOK_URL: want the public HTTPS address of the webhook, such as https://bot.example.org/telegram")
	}
	if cfg.WebhookSecret == "" {
		return errors.New("WEBHOOK_SECRET is not set: it is required with WEBHOOK_URL, so that only Telegram can post updates")
	}
	if !webhookSecret.MatchString(cfg.WebhookSecret) {
		return errors.New("WEBHOOK_SECRET: want 1 to 256 characters among A-Z, a-z, 0-9, _ and -")
	}
	return nil
}

// webhookPath is the path of WEBHOOK_URL, which the reverse proxy forwards
// unchanged to WEBHOOK_ADDR.
func webhookPath(cfg config) string {
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || u.Path == "" {
		return "/"
	}
	return u.Path
}

// serveWebhook registers WEBHOOK_URL with Telegram and serves it on
// WEBHOOK_ADDR until ctx is done. Every instance registers the same URL; the
// webhook stays set when one stops, since the others still serve it.
func serveWebhook(ctx context.Context, cfg config, b *bot.Bot, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.WebhookAddr)
	if err != nil {
		return fmt.Errorf("webhook: listen on %s: %w", cfg.WebhookAddr, err)
	}
	// Listening before registering: Telegram may post at once.
	mux := http.NewServeMux()
	mux.Handle(webhookPath(cfg), b.WebhookHandler(cfg.WebhookSecret))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	err = setWebhookWithRetry(ctx, cfg, b, logger)
	if err == nil {
		logger.Info("webhook: serving", "addr", cfg.WebhookAddr, "path", webhookPath(cfg))
		select {
		case <-ctx.Done():
		case err = <-served:
			err = fmt.Errorf("webhook: %w", err)
		}
	}
	// Shutdown lets the updates in hand commit and answer, so Telegram
	// does not deliver them again.
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil && err == nil {
		err = fmt.Errorf("webhook: shut down: %w", serr)
	}
	return err
}

// setWebhookWithRetry registers the webhook, trying again a few times while
// the Bot API is unreachable.
func setWebhookWithRetry(ctx context.Context, cfg config, b *bot.Bot, logger *slog.Logger) error {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := b.SetWebhook(ctx, cfg.WebhookURL, cfg.WebhookSecret)
		if err == nil || ctx.Err() != nil || attempt == 5 {
			return err
		}
		logger.Warn("webhook: cannot register, retrying", "attempt", attempt, "retry_in", wait, "error", err.Error())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// runWebhook is `migrantbot webhook delete|info`.
func runWebhook(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || (args[0] != "delete" && args[0] != "info") {
		return errors.New("usage: migrantbot webhook delete | info")
	}
	if cfg.Token == "" {
		return errors.New("TELEGRAM_BOT_TOKEN is not set")
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	api, err := bot.Connect(ctx, cfg.APIURL, cfg.Token, &http.Client{Timeout: 30 * time.Second}, logger)
	if err != nil {
		return err
	}
	b := bot.New(api, nil, nil, logger, bot.Options{APIURL: cfg.APIURL})
	if args[0] == "delete" {
		if err := b.DeleteWebhook(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "webhook deleted; pending updates are kept for long polling")
		return nil
	}
	u, err := b.WebhookURL(ctx)
	if err != nil {
		return err
	}
	if u == "" {
		fmt.Fprintln(stdout, "no webhook set: serve uses long polling")
		return nil
	}
	fmt.Fprintf(stdout, "webhook: %s\n", u)
	return nil
}
