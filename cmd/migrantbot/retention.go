package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"migrantbot/flows"
	"migrantbot/store"
)

// retentionCheck is how often every instance asks whether the daily
// retention is due; the store runs it on one of them at most once in
// store.DefaultMinInterval.
const retentionCheck = time.Hour

// loadRetention reads RETENTION_DRAFT_DAYS and RETENTION_CLOSED_DAYS over
// the store's defaults. A reset draft sends the person back to the main
// menu.
func loadRetention(getenv func(string) string) (store.RetentionPolicy, error) {
	p := store.DefaultRetention(flows.StateMenu)
	for _, v := range []struct {
		name string
		into *time.Duration
	}{{"RETENTION_DRAFT_DAYS", &p.DraftAge}, {"RETENTION_CLOSED_DAYS", &p.ClosedAge}} {
		s := strings.TrimSpace(getenv(v.name))
		if s == "" {
			continue
		}
		// 100 years bounds a Duration well within its range.
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 36500 {
			return p, fmt.Errorf("%s %q: want a number of days, such as %d", v.name, s, int(*v.into/(24*time.Hour)))
		}
		*v.into = time.Duration(n) * 24 * time.Hour
	}
	return p, nil
}

// retentionRunner is what the retention job needs of the store.
type retentionRunner interface {
	RunRetention(ctx context.Context, p store.RetentionPolicy, mode store.RetentionMode) (store.RetentionReport, error)
}

// runRetentionJob applies the retention policy at start and then every
// hour until ctx is done; the store skips the runs that come less than a day
// after the last one of any instance. A failed run is logged and tried at
// the next check: retention is never a reason to stop serving.
func runRetentionJob(ctx context.Context, st retentionRunner, p store.RetentionPolicy, logger *slog.Logger) error {
	tick := time.NewTicker(retentionCheck)
	defer tick.Stop()
	for {
		rep, err := st.RunRetention(ctx, p, store.RetentionDaily)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("retention failed, tried again at the next check", "error", err, "next", retentionCheck)
		case err == nil && !rep.Ran:
			logger.Debug("retention not due: ran lately or running on another instance")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// runRetention is `migrantbot retention [--dry-run]`: it applies the
// retention policy now, whenever it last ran, or with --dry-run prints what
// it would remove. It prints counts and the references of the appeals
// anonymized, nothing of their content.
func runRetention(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("retention", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dry := fs.Bool("dry-run", false, "show what would be removed, remove nothing")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errors.New("usage: migrantbot retention [--dry-run]")
	}
	st, _, err := openKeyedStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	mode := store.RetentionNow
	if *dry {
		mode = store.RetentionDryRun
	}
	rep, err := st.RunRetention(ctx, cfg.Retention, mode)
	if err != nil {
		return err
	}
	printRetention(stdout, rep)
	return nil
}

// printRetention writes a report as `migrantbot retention` shows it.
func printRetention(w io.Writer, rep store.RetentionReport) {
	if rep.DryRun {
		fmt.Fprintln(w, "retention dry run: nothing was changed; a run now would remove")
	} else {
		fmt.Fprintln(w, "retention done: removed")
	}
	for _, line := range []struct {
		label string
		n     int
	}{
		{"abandoned drafts", rep.DraftsReset},
		{"appeals anonymized", len(rep.Anonymized)},
		{"processed update ids", rep.UpdatesPruned},
		{"delivered messages deleted", rep.OutboxDeleted},
		{"delivered messages emptied", rep.OutboxBlanked},
	} {
		fmt.Fprintf(w, "  %-28s %d\n", line.label+":", line.n)
	}
	if len(rep.Anonymized) > 0 {
		fmt.Fprintf(w, "appeals: %s\n", strings.Join(rep.Anonymized, " "))
	}
}
