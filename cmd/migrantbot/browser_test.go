package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"migrantbot"
	"migrantbot/bot/telegramtest"
	"migrantbot/store/storetest"
)

// browser starts headless Chromium from Debian's package for one test.
func browser(tb testing.TB) context.Context {
	tb.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		tb.Fatalf("the console's browser test needs Chromium: apt-get install -y chromium (%v)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	tb.Cleanup(func() {
		cancelTimeout()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// waitHealthy waits until the staff console answers /healthz.
func waitHealthy(tb testing.TB, base string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("the staff console at %s did not come up", base)
}

// TestConsoleInBrowser is a reviewer's day in real Chromium: log in, filter the
// list, open the appeal a person just filed on Telegram, reply and change its
// status; the person receives both in their chat, in their language.
func TestConsoleInBrowser(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	srv := startServe(t, tg, url)
	p := newPerson(t, tg, 4242, "ru")
	ref := p.fileAppeal("ru")

	st := openStore(t, url)
	password, err := addStaff(context.Background(), st, "reviewer@ombudsman.az", migrantbot.RoleReviewer, false)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.staffAddr
	waitHealthy(t, base)

	const reply = "Здравствуйте! Мы запросили сведения в полиции. <Ответим> скоро."
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	ctx := browser(t)
	err = chromedp.Do(ctx,
		chromedp.Navigate(base+"/appeals"), // redirects to the login page
		chromedp.WaitVisible(css(`input[name=email]`)),
		chromedp.SendKeys(css(`input[name=email]`), "reviewer@ombudsman.az"),
		chromedp.SendKeys(css(`input[name=password]`), password),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`form.filters`)),

		chromedp.SendKeys(css(`form.filters input[name=q]`), "Mammadov"),
		chromedp.SetValue(css(`form.filters select[name=category]`), "detention"),
		chromedp.Submit(css(`form.filters input[name=q]`)),
		chromedp.WaitVisible(css(`a[href="/appeals/`+ref+`"]`)),
	)
	if err != nil {
		t.Fatalf("browser: log in and filter: %v", err)
	}
	listText, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(css(`a[href="/appeals/`+ref+`"]`)),
		chromedp.WaitVisible(css(`form[action$="/replies"] textarea[name=text]`)),
		chromedp.SendKeys(css(`form[action$="/replies"] textarea[name=text]`), reply),
		chromedp.Submit(css(`form[action$="/replies"] textarea[name=text]`)),
		// The next page, not the one the form was on: it carries the flash.
		chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "flash")][contains(., "reply is queued")]`)),
		chromedp.SetValue(css(`form[action$="/status"] select[name=status]`), string(migrantbot.StatusInReview)),
		chromedp.Submit(css(`form[action$="/status"] select[name=status]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(@class, "flash")][contains(., "status is changed")]`)),
	)
	if err != nil {
		t.Fatalf("browser: reply and change the status: %v", err)
	}
	pageText, err := chromedp.Run(ctx, chromedp.Text(css(`main`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(listText, ref) {
		t.Errorf("the filtered list does not show %s:\n%s", ref, listText)
	}
	for _, want := range []string{"Mammadov", reply} {
		if !strings.Contains(pageText, want) {
			t.Errorf("the appeal page does not show %q", want)
		}
	}

	// The outbox worker delivers the reply and the status message to the person.
	deadline := time.Now().Add(20 * time.Second)
	var gotReply, gotStatus bool
	for time.Now().Before(deadline) && !(gotReply && gotStatus) {
		for _, m := range tg.Messages(p.u.ID) {
			gotReply = gotReply || strings.Contains(m.Plain, reply)
			gotStatus = gotStatus || (strings.Contains(m.Plain, ref) && strings.Contains(m.Plain, "на рассмотрении"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !gotReply || !gotStatus {
		t.Errorf("delivered to the person: reply %v, status %v; chat:\n%q", gotReply, gotStatus, plain(tg.Messages(p.u.ID)))
	}

	entries, err := st.ListAudit(context.Background(), "reviewer@ombudsman.az", "", ref, 50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action] = true
	}
	for _, action := range []string{"appeal.view", "appeal.reply", "appeal.status"} {
		if !seen[action] {
			t.Errorf("audit log lacks %s; has %v", action, seen)
		}
	}
	checkTelegramRules(t, tg)
}
