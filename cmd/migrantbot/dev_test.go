package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/nicksnyder/go-i18n/v2/i18n"

	"migrantbot/locales"
	"migrantbot/pglocal"
	"migrantbot/sealed"
)

// terminal is the person at the keyboard of `migrantbot dev`.
type terminal struct {
	tb   testing.TB
	in   *io.PipeWriter
	out  *syncBuffer
	mark int // where the current screen starts in out
	loc  *i18n.Localizer
	cat  *locales.Catalog
}

// screen waits for the bot's answer to the last input (it ends with the prompt).
func (term *terminal) screen() string {
	term.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		s := term.out.String()[term.mark:]
		if strings.HasSuffix(s, "> ") {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	term.tb.Fatalf("no answer from dev; output so far:\n%s", term.out.String())
	return ""
}

func (term *terminal) write(line string) {
	term.tb.Helper()
	term.screen()
	term.mark = len(term.out.String())
	if _, err := io.WriteString(term.in, line+"\n"); err != nil {
		term.tb.Fatalf("write to dev: %v", err)
	}
}

// choose presses the numbered button whose label is the message key's text.
func (term *terminal) choose(key string) {
	term.tb.Helper()
	label, err := term.loc.Localize(&i18n.LocalizeConfig{MessageID: key})
	if err != nil {
		term.tb.Fatalf("label %s: %v", key, err)
	}
	s := term.screen()
	m := regexp.MustCompile(`\[(\d+)\] (?:✅ )?` + regexp.QuoteMeta(label)).FindStringSubmatch(s)
	if m == nil {
		term.tb.Fatalf("no button %q on the screen:\n%s", label, s)
	}
	term.write(m[1])
}

// chooseIfShown presses the button of the message key when the screen has
// it, and reports whether it did.
func (term *terminal) chooseIfShown(key string) bool {
	term.tb.Helper()
	label, err := term.loc.Localize(&i18n.LocalizeConfig{MessageID: key})
	if err != nil {
		term.tb.Fatalf("label %s: %v", key, err)
	}
	if !regexp.MustCompile(`\[(\d+)\] (?:✅ )?` + regexp.QuoteMeta(label)).MatchString(term.screen()) {
		return false
	}
	term.choose(key)
	return true
}

func (term *terminal) language(lang string) {
	term.loc = i18n.NewLocalizer(term.cat.Bundle, lang)
}

// startDev runs `migrantbot dev` in a fresh directory, as a newcomer would,
// with the test at its keyboard.
func startDev(t *testing.T) (*terminal, *io.PipeWriter, chan error, string) {
	t.Helper()
	t.Chdir(t.TempDir())
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	term := &terminal{tb: t, in: inW, out: &syncBuffer{}, cat: cat}
	done := make(chan error, 1)
	addr := freeAddr(t)
	env := map[string]string{"LANG": "az_AZ.UTF-8", "STAFF_ADDR": addr}
	go func() {
		done <- run(context.Background(), []string{"dev"}, func(k string) string { return env[k] }, inR, term.out, term.out)
	}()
	return term, inW, done, addr
}

// fileAppeal answers every question of an appeal in the terminal and
// returns its reference.
func (term *terminal) fileAppeal(lang string) string {
	term.tb.Helper()
	term.language(lang)
	term.choose("lang_name")
	term.choose("menu_appeal")
	// The person agreed with the first appeal; the same version of the
	// privacy notice is not asked again.
	if !term.chooseIfShown("btn_agree") && !strings.Contains(term.screen(), "/privacy") {
		term.tb.Fatalf("%s: neither the consent question nor the earlier agreement shown:\n%s", lang, term.screen())
	}
	term.write("Hüseynov")
	term.write("Orxan")
	term.choose("btn_none")
	term.choose("country_GE")
	term.choose("country_AZ")
	term.write("Sumqayıt")
	term.write("Sülh küçəsi 7, mənzil 12")
	term.choose("cat_labour")
	term.choose("btn_skip")
	term.choose("when_this_month")
	term.write("İşəgötürən iki aydır maaşımı ödəmir və pasportumu saxlayır.")
	term.choose("btn_continue")
	term.write(":photo payslip")
	term.choose("btn_done")
	term.write("+994 70 111 22 33")
	term.choose("btn_skip")
	term.choose("btn_submit")
	ref := regexp.MustCompile(`AP-\d{4}-\d{6}`).FindString(term.screen())
	if ref == "" {
		term.tb.Fatalf("%s: no reference after submit:\n%s", lang, term.screen())
	}
	return ref
}

// TestDevFilesAppealsInEveryLanguage runs `migrantbot dev` as a newcomer would:
// it starts its own PostgreSQL under ./.data, and an appeal filed in the
// terminal in each language is in the database afterwards.
func TestDevFilesAppealsInEveryLanguage(t *testing.T) {
	term, inW, done, _ := startDev(t)
	var refs []string
	for i, lang := range []string{"az", "en", "ru"} {
		if i > 0 {
			term.write("/language")
		}
		refs = append(refs, term.fileAppeal(lang))
	}
	term.screen()
	inW.Close() // Ctrl-D ends the chat and stops PostgreSQL
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev: %v\n%s", err, term.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop after the chat ended")
	}
	if !strings.Contains(term.out.String(), "PostgreSQL stopped") {
		t.Errorf("dev did not say it stopped PostgreSQL:\n%s", term.out)
	}

	// The data stayed in ./.data: start the same server again and look.
	srv, err := pglocal.Start(context.Background(), filepath.Join(".data", "postgres"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("restart the dev database: %v", err)
	}
	defer srv.Stop(context.Background())
	conn, err := pgx.Connect(context.Background(), srv.URL("migrantbot"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Personal fields are sealed under the key dev made in ./.data.
	rawKey, err := os.ReadFile(filepath.Join(".data", "data-key"))
	if err != nil {
		t.Fatalf("dev kept no data key: %v", err)
	}
	keys, err := sealed.Parse(strings.TrimSpace(string(rawKey)), "")
	if err != nil {
		t.Fatalf("dev's data key: %v", err)
	}
	for i, lang := range []string{"az", "en", "ru"} {
		var gotLang, city, phone string
		var files int
		err := conn.QueryRow(context.Background(),
			`SELECT language, city, phone, (SELECT count(*) FROM attachments WHERE appeal_id = a.id) FROM appeals a WHERE reference = $1`,
			refs[i]).Scan(&gotLang, &city, &phone, &files)
		if err != nil {
			t.Fatalf("appeal %s: %v", refs[i], err)
		}
		if strings.Contains(city+phone, "Sumqay") || strings.Contains(phone, "701112233") {
			t.Errorf("appeal %s: city or phone stored in plain text", refs[i])
		}
		if city, err = keys.Open(city); err != nil {
			t.Fatalf("open the city: %v", err)
		}
		if phone, err = keys.Open(phone); err != nil {
			t.Fatalf("open the phone: %v", err)
		}
		if gotLang != lang || city != "Sumqayıt" || phone != "+994701112233" || files != 1 {
			t.Errorf("appeal %s: language %q city %q phone %q files %d", refs[i], gotLang, city, phone, files)
		}
	}
}

// TestDevConsoleReplyReachesTerminal is the staff side of dev: log in with the
// admin account dev printed, open the appeal just filed in the terminal,
// reply and change its status; both appear in the terminal chat.
func TestDevConsoleReplyReachesTerminal(t *testing.T) {
	term, inW, done, addr := startDev(t)
	ref := term.fileAppeal("en")
	m := regexp.MustCompile(`login (\S+)\s+password (\S+)`).FindStringSubmatch(term.out.String())
	if m == nil {
		t.Fatalf("dev did not print the admin login:\n%s", term.out)
	}
	base := "http://" + addr
	waitHealthy(t, base)
	const reply = "We have written to the employer. Please keep your payslips."
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	err := chromedp.Do(browser(t),
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(css(`input[name=email]`), m[1]),
		chromedp.SendKeys(css(`input[name=password]`), m[2]),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`a[href="/appeals/`+ref+`"]`)),
		chromedp.Click(css(`a[href="/appeals/`+ref+`"]`)),
		chromedp.SendKeys(css(`form[action$="/replies"] textarea[name=text]`), reply),
		chromedp.Submit(css(`form[action$="/replies"] textarea[name=text]`)),
		// The next page, not the one the form was on: it carries the flash.
		chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "flash")][contains(., "reply is queued")]`)),
		chromedp.SetValue(css(`form[action$="/status"] select[name=status]`), "answered"),
		chromedp.Submit(css(`form[action$="/status"] select[name=status]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "flash")][contains(., "status is changed")]`)),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !(strings.Contains(term.out.String(), reply) && strings.Contains(term.out.String(), "the status is now «✉️ answered»")) {
		if time.Now().After(deadline) {
			t.Fatalf("the reply and the status change did not reach the terminal:\n%s", term.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	inW.Close()
	if err := <-done; err != nil {
		t.Fatalf("dev: %v", err)
	}
}
