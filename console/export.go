package console

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"migrantbot"
)

// csvHeader names the columns of the export, in English and stable, for
// scripts as much as for people.
func csvHeader() []string {
	return []string{
		"reference", "submitted_at", "status", "assignee", "language",
		"surname", "first_name", "patronymic", "citizenship", "country", "city", "address",
		"category", "authority", "when", "over_one_year", "description",
		"phone", "phone_shared", "email", "consent_at", "consent_version", "attachments",
	}
}

// csvRow is one appeal as the export writes it. Times are UTC, RFC 3339.
func csvRow(a migrantbot.Appeal, assignee string) []string {
	utc := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return []string{
		a.Reference, utc(a.SubmittedAt), string(a.Status), assignee, a.Language,
		a.Surname, a.FirstName, a.Patronymic, a.Citizenship, a.Country, a.City, a.Address,
		a.Category, a.Authority, a.When, strconv.FormatBool(a.OverOneYear), a.Description,
		a.Phone, strconv.FormatBool(a.PhoneShared), a.Email, utc(a.ConsentAt), a.ConsentVersion,
		strconv.Itoa(len(a.Attachments)),
	}
}

// WriteCSV writes appeals as CSV for spreadsheet programs: UTF-8 with a byte
// order mark (without it, Excel reads Azerbaijani and Cyrillic letters as
// Latin-1), CRLF line ends, a header row, then one row per appeal with every
// answer the person gave but no file contents (only the number of files).
//
// rows is called once and calls each for every appeal, in the order to
// write; it is shaped to be a store's streaming export, e.g. in cmd:
//
//	err := console.WriteCSV(os.Stdout, func(each func(migrantbot.Appeal, string) error) error {
//		return st.ExportAppeals(ctx, migrantbot.AppealFilter{}, each)
//	})
//
// A cell a person wrote that a spreadsheet would run as a formula (starting
// with =, @, + or -, unless it is a number such as a phone) is prefixed with
// an apostrophe, which spreadsheets hide.
func WriteCSV(w io.Writer, rows func(each func(a migrantbot.Appeal, assignee string) error) error) error {
	buf := bufio.NewWriter(w)
	if _, err := buf.WriteString("\ufeff"); err != nil {
		return fmt.Errorf("console: write csv: %w", err)
	}
	cw := csv.NewWriter(buf)
	cw.UseCRLF = true
	if err := cw.Write(csvHeader()); err != nil {
		return fmt.Errorf("console: write csv: %w", err)
	}
	err := rows(func(a migrantbot.Appeal, assignee string) error {
		row := csvRow(a, assignee)
		for i, cell := range row {
			row[i] = defuseFormula(cell)
		}
		return cw.Write(row)
	})
	if err != nil {
		return fmt.Errorf("console: write csv: %w", err)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("console: write csv: %w", err)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("console: write csv: %w", err)
	}
	return nil
}

// defuseFormula keeps a spreadsheet from running a cell as a formula.
func defuseFormula(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if strings.Trim(s[1:], "0123456789 ()-.") == "" {
			return s // a phone number or a negative number
		}
		return "'" + s
	}
	return s
}

type exporter interface {
	ExportAppeals(ctx context.Context, f migrantbot.AppealFilter, each func(a migrantbot.Appeal, assignee string) error) error
}

// handleExport streams the filtered list as CSV. It is audited before the
// first byte, with the filter: an interrupted download was still an export.
func (a *app) handleExport(st exporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		f, form := a.filterFromRequest(r)
		f.After, f.Limit = "", 0
		if err := a.audit(ctx, r, "export", "appeals", form.describe()); err != nil {
			a.serverError(w, r, err)
			return
		}
		name := "appeals-" + a.deps.Now().In(a.deps.Location).Format("2006-01-02") + ".csv"
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		out := &writeTracker{w: w}
		err := WriteCSV(out, func(each func(migrantbot.Appeal, string) error) error {
			return st.ExportAppeals(ctx, f, each)
		})
		switch {
		case err == nil:
		case !out.wrote:
			w.Header().Del("Content-Disposition")
			a.serverError(w, r, err)
		default:
			// The status is sent; the truncated file and the log say it.
			a.deps.Logger.ErrorContext(ctx, "console: export", "route", r.Pattern, "err", err)
		}
	})
}

// writeTracker notes whether anything reached the response, after which an
// error can no longer change its status.
type writeTracker struct {
	w     io.Writer
	wrote bool
}

func (t *writeTracker) Write(p []byte) (int, error) {
	t.wrote = true
	return t.w.Write(p)
}
