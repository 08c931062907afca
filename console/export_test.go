package console

import (
	"bytes"
	"encoding/csv"
	"errors"
	"net/http"
	"strings"
	"testing"

	"migrantbot"
)

func TestExport(t *testing.T) {
	e := newEnv(t)
	admin, _ := e.loggedIn(t, "exporter@example.org", migrantbot.RoleAdmin)
	reviewer, _ := e.loggedIn(t, "noexport@example.org", migrantbot.RoleReviewer)
	az := migrantbot.Appeal{
		Surname: "Şükürova", FirstName: "Gülnarə", Patronymic: "İlham qızı", Category: "labour",
		Citizenship: "AZ", Country: "RU", City: "Москва", Description: "Maaşımı vermirlər, \"iki ay\".\nİkinci sətir.",
		Phone: "+79001234567", Language: "az",
	}
	ru := migrantbot.Appeal{
		Surname: "Щербаков", FirstName: "Ёжик", Category: "documents", Description: "=HYPERLINK(\"http://x\")",
		Language: "ru",
	}
	refAZ := e.submit(t, az)
	refRU := e.submit(t, ru)

	wantStatus(t, "reviewer export", reviewer.get("/export.csv"), http.StatusForbidden)

	r := admin.get("/export.csv?category=labour")
	wantStatus(t, "admin export", r, http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type: got %q", ct)
	}
	if !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment;") {
		t.Errorf("Content-Disposition: got %q", r.header.Get("Content-Disposition"))
	}
	if !strings.HasPrefix(r.body, "\xef\xbb\xbf") {
		t.Fatalf("export does not start with the UTF-8 byte order mark: %q", r.body[:min(10, len(r.body))])
	}
	rows := readCSV(t, strings.TrimPrefix(r.body, "\ufeff"))
	if len(rows) != 2 {
		t.Fatalf("rows (header and labour appeals): got %d, want 2", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	row := rows[1]
	for name, want := range map[string]string{
		"reference": refAZ, "surname": az.Surname, "first_name": az.FirstName, "patronymic": az.Patronymic,
		"city": az.City, "description": az.Description, "phone": az.Phone, "status": "new", "language": "az",
	} {
		if got := row[col[name]]; got != want {
			t.Errorf("column %s: got %q, want %q", name, got, want)
		}
	}
	if n := e.auditCount(t, "exporter@example.org", "export", ""); n != 1 {
		t.Errorf("export audit entries: got %d, want 1", n)
	}
	entries, err := e.store.ListAudit(t.Context(), "exporter@example.org", "export", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 1 && entries[0].Detail != "category=labour" {
		t.Errorf("export audit detail: got %q, want the filter", entries[0].Detail)
	}

	// The whole list, with the formula defused.
	rows = readCSV(t, strings.TrimPrefix(admin.get("/export.csv").body, "\ufeff"))
	if len(rows) != 3 || rows[1][0] != refRU {
		t.Fatalf("unfiltered export: got %d rows, first %q; want 3 rows, newest (%s) first", len(rows), rows[1][0], refRU)
	}
	if got := rows[1][col["description"]]; got != "'"+ru.Description {
		t.Errorf("formula cell: got %q, want it prefixed with an apostrophe", got)
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	err := WriteCSV(&buf, func(each func(migrantbot.Appeal, string) error) error {
		if err := each(migrantbot.Appeal{Reference: "AP-1", Surname: "Əhmədov", Phone: "+994 50 123-45-67"}, "a@example.org"); err != nil {
			return err
		}
		return each(migrantbot.Appeal{Reference: "AP-2", Surname: "@SUM(A1)", City: "-2+3"}, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "\ufeffreference,submitted_at,") || !strings.Contains(out, "\r\n") {
		t.Errorf("output does not start with the BOM and header, or lacks CRLF: %q", out[:40])
	}
	rows := readCSV(t, strings.TrimPrefix(out, "\ufeff"))
	if len(rows) != 3 || len(rows[1]) != len(csvHeader()) {
		t.Fatalf("rows: got %d of %d columns", len(rows), len(rows[1]))
	}
	tests := []struct{ got, want string }{
		{rows[1][5], "Əhmədov"},
		{rows[1][3], "a@example.org"},
		{rows[1][17], "+994 50 123-45-67"},
		{rows[2][5], "'@SUM(A1)"},
		{rows[2][10], "'-2+3"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("cell: got %q, want %q", tc.got, tc.want)
		}
	}

	boom := errors.New("database went away")
	err = WriteCSV(&bytes.Buffer{}, func(func(migrantbot.Appeal, string) error) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("WriteCSV error: got %v, want it to wrap %v", err, boom)
	}
}

func readCSV(tb testing.TB, s string) [][]string {
	tb.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		tb.Fatalf("read CSV: %v", err)
	}
	return rows
}
