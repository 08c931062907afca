package main

import (
	"bytes"
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
	"migrantbot/pglocal"
	"migrantbot/sealed"
	"migrantbot/store/storetest"
)

// pgDump dumps the database at dbURL as SQL with the pg_dump that sits
// beside the server binaries.
func pgDump(tb testing.TB, dbURL string) string {
	tb.Helper()
	dir, err := pglocal.FindBinDir()
	if err != nil {
		tb.Fatalf("pg_dump: %v", err)
	}
	// The directory may hold links to the server binaries alone (Debian
	// links initdb and friends into /usr/local/bin): pg_dump is then beside
	// the file initdb links to.
	dirs := []string{dir}
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "initdb")); err == nil {
		dirs = append([]string{filepath.Dir(real)}, dirs...)
	}
	bin := ""
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_dump")); err == nil {
			bin = filepath.Join(d, "pg_dump")
			break
		}
	}
	if bin == "" {
		tb.Fatalf("pg_dump is not beside the server binaries in %v: install the PostgreSQL client (apt-get install postgresql)", dirs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--no-owner", "--no-privileges", "--dbname", dbURL)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		tb.Fatalf("pg_dump: %v: %s", err, errOut.String())
	}
	return out.String()
}

// TestDumpHoldsNoPersonalData is the check: after a dialog through
// serve with marked personal data, a staff reply and a note, pg_dump of the
// database holds none of the marked values, while the staff console shows
// every one of them on the appeal's page.
func TestDumpHoldsNoPersonalData(t *testing.T) {
	tg := telegramtest.New(t, token)
	dbURL := storetest.NewDatabase(t)
	srv := startServe(t, tg, dbURL)

	// Made-up words, so that a hit in the dump can only be a leak.
	marked := map[string]string{
		"surname":       "Drimblethorpe",
		"first name":    "Quaxilinda",
		"patronymic":    "Wuzzelovna",
		"city":          "Plinkertown",
		"address":       "Snorgle Lane 41",
		"authority":     "Fizzwick Bureau",
		"description":   "Blorptastic Grumbleweed Hoozywhat",
		"photo caption": "Zarbocaption",
		"document name": "flumox-contract.pdf",
		"document text": "Quibblecaption",
		"phone":         "+994 55 468 13 57",
		"e-mail":        "glorp.wizzle@example.org",
		"follow-up":     "Snazzlefrump Wobbleton",
		"note":          "Crumplenote Dazzlewick",
		"reply":         "Jibberreply Floopington",
	}
	p := newPerson(t, tg, 7070, "en")
	ref := p.fileMarked(markedAppeal{
		Surname: marked["surname"], FirstName: marked["first name"], Patronymic: marked["patronymic"],
		City: marked["city"], Address: marked["address"], Authority: marked["authority"],
		Description: marked["description"], PhotoCaption: marked["photo caption"],
		DocName: marked["document name"], DocCaption: marked["document text"],
		SharedPhone: "994501112233", TypedPhone: marked["phone"], Email: marked["e-mail"],
		FollowUp: marked["follow-up"],
	})

	st := openStore(t, dbURL)
	password, err := addStaff(t.Context(), st, "reviewer@ombudsman.example", migrantbot.RoleReviewer, false)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.staffAddr
	waitHealthy(t, base)
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{tb: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	cc.login("reviewer@ombudsman.example", password)
	cc.do(http.MethodGet, "/appeals/"+ref, nil)
	cc.do(http.MethodPost, "/appeals/"+ref+"/notes", url.Values{"text": {marked["note"]}})
	cc.do(http.MethodPost, "/appeals/"+ref+"/replies", url.Values{"text": {marked["reply"]}})

	// The staff console shows every value on the appeal's page; the phone
	// as the bot normalized it.
	a, err := st.Appeal(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Phone, "554681357") {
		t.Fatalf("the appeal's phone is %q, want the typed one: the dialog did not go as planned", a.Phone)
	}
	page, _ := cc.do(http.MethodGet, "/appeals/"+ref, nil)
	page = html.UnescapeString(page)
	for name, v := range marked {
		if name == "phone" {
			v = a.Phone
		}
		if !strings.Contains(page, v) {
			t.Errorf("the appeal's page does not show the %s %q", name, v)
		}
	}
	// The keyed index finds the appeal by a word of the surname, typed in
	// capitals in the console's search (whose audit entry keeps no words).
	list, _ := cc.do(http.MethodGet, "/appeals?q="+url.QueryEscape(strings.ToUpper(marked["surname"])), nil)
	if !strings.Contains(list, ref) {
		t.Errorf("searching the surname in capitals in the console does not find %s", ref)
	}

	// A dump of the database holds none of them, not even a word on its
	// own or the digits of the phone, in any case.
	dump := strings.ToLower(pgDump(t, dbURL))
	if !strings.Contains(dump, "create table public.appeals") || !strings.Contains(dump, strings.ToLower(ref)) {
		t.Fatalf("the dump lacks the appeals table or the appeal %s; it proves nothing", ref)
	}
	needles := map[string]string{"phone digits": "554681357"}
	for name, v := range marked {
		needles[name] = v
		for i, w := range strings.Fields(v) {
			if len(w) >= 6 {
				needles[name+" word "+strconv.Itoa(i+1)] = w
			}
		}
	}
	for name, v := range needles {
		if strings.Contains(dump, strings.ToLower(v)) {
			t.Errorf("the dump holds the %s %q", name, v)
		}
	}
	if !strings.Contains(dump, sealed.Prefix+storetest.Keys(t).CurrentID()+":") {
		t.Errorf("the dump holds no value sealed under the data key")
	}
	checkTelegramRules(t, tg)
}

func TestDataKeyRequired(t *testing.T) {
	good, _ := sealed.NewKey()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"serve without key", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x@/y", "TELEGRAM_BOT_TOKEN": token}, "DATA_KEY is not set"},
		{"serve with a short key", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x@/y", "TELEGRAM_BOT_TOKEN": token,
			"DATA_KEY": "c2hvcnQga2V5"}, "DATA_KEY: is 9 bytes, want 32"},
		{"serve with a bad previous key", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres://x@/y", "TELEGRAM_BOT_TOKEN": token,
			"DATA_KEY": good, "DATA_KEY_PREVIOUS": "%%%secret%%%"}, "DATA_KEY_PREVIOUS key 1: not valid base64"},
		{"chat without key", []string{"chat"}, map[string]string{"DATABASE_URL": "postgres://x@/y"}, "DATA_KEY is not set"},
		{"export without key", []string{"export"}, map[string]string{"DATABASE_URL": "postgres://x@/y"}, "DATA_KEY is not set"},
		{"staff without key", []string{"staff", "list"}, map[string]string{"DATABASE_URL": "postgres://x@/y"}, "DATA_KEY is not set"},
		{"rotate-key without key", []string{"rotate-key"}, map[string]string{"DATABASE_URL": "postgres://x@/y"}, "DATA_KEY is not set"},
		{"rotate-key with a malformed key", []string{"rotate-key"}, map[string]string{"DATABASE_URL": "postgres://x@/y",
			"DATA_KEY": "not base64 at all: secret!"}, "DATA_KEY: not valid base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
			for _, k := range []string{"DATA_KEY", "DATA_KEY_PREVIOUS"} {
				if v := tc.env[k]; v != "" && strings.Contains(err.Error(), v) {
					t.Errorf("error %q shows %s", err, k)
				}
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows a key's text", err)
			}
		})
	}
}

func TestRotateKeyCommand(t *testing.T) {
	tg := telegramtest.New(t, token)
	dbURL := storetest.NewDatabase(t)
	srv := startServe(t, tg, dbURL)
	p := newPerson(t, tg, 7171, "en")
	ref := p.fileAppeal("en")
	srv.stop()

	oldKey := storetest.DataKey(t)
	newKey, err := sealed.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	rotate := func(env map[string]string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"rotate-key"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	env := map[string]string{"DATABASE_URL": dbURL, "DATA_KEY": newKey, "DATA_KEY_PREVIOUS": oldKey}
	out, err := rotate(env)
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}
	rows := regexp.MustCompile(`(?m)^(\w+): (\d+) rows re-encrypted$`)
	counted := map[string]int{}
	for _, m := range rows.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		counted[m[1]] = n
	}
	for _, table := range []string{"appeals", "attachments", "sessions", "outbox"} {
		if counted[table] == 0 {
			t.Errorf("rotate-key re-encrypted no row of %s:\n%s", table, out)
		}
	}
	if strings.Contains(out, newKey) || strings.Contains(out, oldKey) {
		t.Errorf("rotate-key printed a key:\n%s", out)
	}
	out, err = rotate(env)
	if err != nil {
		t.Fatalf("rotate-key again: %v", err)
	}
	matches := rows.FindAllStringSubmatch(out, -1)
	if len(matches) != len(counted) {
		t.Errorf("rotate-key again printed %d tables, want %d:\n%s", len(matches), len(counted), out)
	}
	for _, m := range matches {
		if m[2] != "0" {
			t.Errorf("rotate-key again re-encrypted %s rows of %s, want none", m[2], m[1])
		}
	}

	// serve with the new key alone reads the appeal and the dialog goes on.
	srv = startServe(t, tg, dbURL, "DATA_KEY", newKey)
	p.text("/status")
	p.wantSaid(ref)
	st := storetest.OpenStore(t, dbURL, mustRing(t, newKey))
	a, err := st.Appeal(t.Context(), ref)
	if err != nil || a.Surname != "Mammadov" {
		t.Errorf("appeal with the new key alone: got %q, %v; want Mammadov", a.Surname, err)
	}
	srv.stop()
}

func mustRing(tb testing.TB, key string) *sealed.Keyring {
	tb.Helper()
	k, err := sealed.Parse(key, "")
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestDevKeepsItsDataKey(t *testing.T) {
	dir := t.TempDir()
	cfg := config{}
	var out bytes.Buffer
	first, err := devDataKey(cfg, dir, &out)
	if err != nil {
		t.Fatalf("devDataKey: %v", err)
	}
	path := filepath.Join(dir, "data-key")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("no key file: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode: got %o, want 600", perm)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(out.String(), strings.TrimSpace(string(b))) {
		t.Errorf("dev printed the key: %q", out.String())
	}
	second, err := devDataKey(cfg, dir, io.Discard)
	if err != nil {
		t.Fatalf("devDataKey again: %v", err)
	}
	if first.CurrentID() != second.CurrentID() {
		t.Errorf("the second run made another key: %s, then %s", first.CurrentID(), second.CurrentID())
	}
	// DATA_KEY wins over the file.
	key, _ := sealed.NewKey()
	third, err := devDataKey(config{DataKey: key}, dir, io.Discard)
	if err != nil || third.CurrentID() == first.CurrentID() {
		t.Errorf("dev with DATA_KEY: got %v, %v; want DATA_KEY's keyring", third, err)
	}
}
