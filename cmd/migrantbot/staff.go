package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"migrantbot"
	"migrantbot/console"
	"migrantbot/store"
)

// runStaff manages staff accounts: add, list, disable, enable.
func runStaff(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set")
	}
	if len(args) == 0 {
		return errors.New("usage: migrantbot staff add --email E --role admin|reviewer | list | disable --email E | enable --email E | reset-totp --email E")
	}
	fs := flag.NewFlagSet("staff "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", "", "the staff member's e-mail")
	role := fs.String("role", "reviewer", "admin or reviewer")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("staff %s: %w", args[0], err)
	}
	st, _, err := openKeyedStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "add":
		if !strings.Contains(*email, "@") {
			return errors.New("staff add: --email is required")
		}
		r := migrantbot.Role(*role)
		if r != migrantbot.RoleAdmin && r != migrantbot.RoleReviewer {
			return fmt.Errorf("staff add: --role %q: want admin or reviewer", *role)
		}
		password, err := addStaff(ctx, st, *email, r, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\none-time password: %s\nit must be changed at the first login\n", *email, r, password)
		return nil
	case "list":
		list, err := st.ListStaff(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "EMAIL\tROLE\tSTATE\tLAST LOGIN")
		for _, s := range list {
			state, last := "active", "never"
			if s.Disabled {
				state = "disabled"
			}
			if !s.LastLoginAt.IsZero() {
				last = s.LastLoginAt.Format(time.DateTime)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Email, s.Role, state, last)
		}
		return w.Flush()
	case "disable", "enable":
		s, _, err := st.StaffByEmail(ctx, *email)
		if err != nil {
			return fmt.Errorf("staff %s %s: %w", args[0], *email, err)
		}
		if err := st.SetStaffDisabled(ctx, s.ID, args[0] == "disable"); err != nil {
			return err
		}
		if err := st.Audit(ctx, migrantbot.AuditEntry{Actor: "cli", Action: "staff." + args[0], Target: s.Email}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sd %s\n", args[0], s.Email)
		return nil
	case "reset-totp":
		// For a lost authenticator: TOTP off, secret forgotten, every
		// session of the account ended; the owner logs in with the password
		// alone and may set up a new app.
		s, _, err := st.StaffByEmail(ctx, *email)
		if err != nil {
			return fmt.Errorf("staff reset-totp %s: %w", *email, err)
		}
		if err := st.ResetTOTP(ctx, s.ID); err != nil {
			return err
		}
		if err := st.Audit(ctx, migrantbot.AuditEntry{Actor: "cli", Action: "totp.reset", Target: s.Email}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "reset the authenticator of %s and ended its sessions\n", s.Email)
		return nil
	}
	return fmt.Errorf("staff %q: want add, list, disable, enable or reset-totp", args[0])
}

// addStaff creates an account with a new random password and returns it.
func addStaff(ctx context.Context, st *store.Store, email string, role migrantbot.Role, mustChange bool) (string, error) {
	password := console.NewPassword()
	hash, err := console.HashPassword(password)
	if err != nil {
		return "", err
	}
	if _, err := st.CreateStaff(ctx, email, role, hash, mustChange); err != nil {
		return "", fmt.Errorf("staff add %s: %w", email, err)
	}
	if err := st.Audit(ctx, migrantbot.AuditEntry{Actor: "cli", Action: "staff.add", Target: email, Detail: string(role)}); err != nil {
		return "", err
	}
	return password, nil
}

// runExport writes the appeals as CSV for spreadsheets.
func runExport(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "csv", "csv")
	status := fs.String("status", "", "only appeals with this status")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if *format != "csv" {
		return fmt.Errorf("export: --format %q: only csv is supported", *format)
	}
	st, _, err := openKeyedStore(ctx, cfg, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	f := migrantbot.AppealFilter{Status: migrantbot.Status(*status)}
	if err := st.Audit(ctx, migrantbot.AuditEntry{Actor: "cli", Action: "export", Detail: "status=" + *status}); err != nil {
		return err
	}
	return console.WriteCSV(stdout, func(row func(migrantbot.Appeal, string) error) error {
		return st.ExportAppeals(ctx, f, row)
	})
}
