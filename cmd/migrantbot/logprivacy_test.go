package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
	"migrantbot/store/storetest"
)

// consoleClient is a staff member's browser over plain HTTP: cookies, and
// the CSRF token of the last page read.
type consoleClient struct {
	tb   testing.TB
	base string
	c    *http.Client
	csrf string
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request and reads the page it ends on, keeping its CSRF token.
func (cc *consoleClient) do(method, path string, form url.Values) (string, *http.Response) {
	cc.tb.Helper()
	var body io.Reader
	if form != nil {
		if !form.Has("csrf") {
			form.Set("csrf", cc.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(cc.tb.Context(), method, cc.base+path, body)
	if err != nil {
		cc.tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		cc.tb.Fatalf("%s %s: %v", method, path, err)
	}
	if m := csrfField.FindSubmatch(page); m != nil {
		cc.csrf = string(m[1])
	}
	if resp.StatusCode != http.StatusOK {
		cc.tb.Fatalf("%s %s: status %d at %s", method, path, resp.StatusCode, resp.Request.URL.Path)
	}
	return string(page), resp
}

// login signs in on the login page, as a browser does.
func (cc *consoleClient) login(email, password string) {
	cc.tb.Helper()
	cc.do(http.MethodGet, "/login", nil)
	_, resp := cc.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {password}})
	if resp.Request.URL.Path == "/login" {
		cc.tb.Fatalf("login as %s failed: still on the login page", email)
	}
}

// TestLogsHoldNoPersonalData runs `serve` with debug logs through a whole
// appeal with marked values in every personal field, a follow-up from My
// appeals, and a note, a reply and a rejection by staff in the console;
// none of the marked values, the bot token, the data key or the staff
// password may appear in what serve logged.
func TestLogsHoldNoPersonalData(t *testing.T) {
	tg := telegramtest.New(t, token)
	dbURL := storetest.NewDatabase(t)
	dataKey := storetest.DataKey(t)
	srv := startServe(t, tg, dbURL, "DATA_KEY", dataKey)

	// Made-up words, so that a hit in the logs can only be a leak; each
	// word of eight letters or more is looked for on its own too.
	marked := map[string]string{
		"telegram name":  "Quorvinth",
		"surname":        "Zyxwabbler",
		"first name":     "Vorplessa",
		"patronymic":     "Glimmerovna",
		"city":           "Snarkovgrad",
		"address":        "Tumtumtree Lane 77",
		"authority":      "Bandersnatch Bureau",
		"description":    "Frumiously Tulgeywood Manxomefoe Beamishly",
		"photo caption":  "Jubjubcaption",
		"document name":  "borogove-contract.pdf",
		"document text":  "Mimsycaption",
		"shared phone":   "994509871234",
		"typed phone":    "+994 55 321 76 54",
		"e-mail":         "outgrabe.raths@example.org",
		"follow-up":      "Slithytoves Gimbleagain",
		"follow-up file": "Wabecaption",
		"note":           "Vorpalnote Snickersnack",
		"reply":          "Galumphing Chortlereply",
		"reason":         "Uffishreason Whiffling",
	}
	p := newPerson(t, tg, 6060, "en")
	p.u.FirstName = marked["telegram name"]
	ref := p.fileMarked(markedAppeal{
		Surname: marked["surname"], FirstName: marked["first name"], Patronymic: marked["patronymic"],
		City: marked["city"], Address: marked["address"], Authority: marked["authority"],
		Description: marked["description"], PhotoCaption: marked["photo caption"],
		DocName: marked["document name"], DocCaption: marked["document text"],
		// The number shared with the button, then one typed instead of it.
		SharedPhone: marked["shared phone"], TypedPhone: marked["typed phone"], Email: marked["e-mail"],
		// A follow-up from My appeals: a message and a file.
		FollowUp: marked["follow-up"],
	})
	p.await(tg.SendPhoto(p.u, marked["follow-up file"], ""))

	// Staff: a note, a reply and a rejection, in the console over HTTP.
	st := storetest.OpenStore(t, dbURL, storetest.Keys(t))
	password, err := addStaff(t.Context(), st, "reviewer@ombudsman.example", migrantbot.RoleReviewer, false)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.staffAddr
	waitHealthy(t, base)
	jar, _ := cookiejar.New(nil)
	cc := &consoleClient{tb: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	cc.login("reviewer@ombudsman.example", password)
	cc.do(http.MethodGet, "/appeals?q="+url.QueryEscape(marked["surname"]), nil)
	cc.do(http.MethodGet, "/appeals/"+ref, nil)
	cc.do(http.MethodPost, "/appeals/"+ref+"/notes", url.Values{"text": {marked["note"]}})
	cc.do(http.MethodPost, "/appeals/"+ref+"/replies", url.Values{"text": {marked["reply"]}})
	cc.do(http.MethodPost, "/appeals/"+ref+"/status", url.Values{"status": {string(migrantbot.StatusRejected)}, "reason": {marked["reason"]}})

	// Everything went where it should: the appeal holds every value, and
	// the person received the reply and the reason.
	a, err := st.AppealDetail(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := json.Marshal(a)
	for name, v := range marked {
		switch name {
		case "telegram name", "shared phone", "typed phone":
			continue // not kept as given: the name is Telegram's, phones are normalized
		}
		if !strings.Contains(string(stored), v) {
			t.Errorf("the appeal does not hold the %s %q: the dialog did not go as planned", name, v)
		}
	}
	if a.Appeal.Status != migrantbot.StatusRejected || !strings.Contains(a.Appeal.Phone, "553217654") {
		t.Errorf("appeal: status %q, phone %q; want rejected with the typed phone", a.Appeal.Status, a.Appeal.Phone)
	}
	deadline := time.Now().Add(20 * time.Second)
	for delivered := false; !delivered; {
		chat := strings.Join(plain(tg.Messages(p.u.ID)), "\n")
		delivered = strings.Contains(chat, marked["reply"]) && strings.Contains(chat, marked["reason"])
		if !delivered && time.Now().After(deadline) {
			t.Fatalf("the reply and the rejection did not reach the person:\n%s", chat)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkTelegramRules(t, tg)
	srv.stop()

	logs := srv.logs.String()
	// The logs must be there, with a line for every update, or finding
	// nothing in them would prove nothing.
	logged := map[int64]bool{}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		var l struct {
			Msg    string `json:"msg"`
			Update int64  `json:"update"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "bot: update" {
			logged[l.Update] = true
		}
	}
	updates := 0
	for id := int64(1); id < tg.Offset(); id++ {
		if tg.Update(id) == nil {
			continue
		}
		updates++
		if !logged[id] {
			t.Errorf("no log line for update %d", id)
		}
	}
	if updates == 0 || lines <= updates {
		t.Fatalf("%d log lines for %d updates; the logs were not captured", lines, updates)
	}

	secrets := map[string]string{"bot token": token, "data key": dataKey, "staff password": password}
	for name, v := range marked {
		secrets[name] = v
	}
	// Digits of the phones as they may be written, and each word of the
	// longer values on its own.
	secrets["typed phone digits"] = "553217654"
	secrets["shared phone digits"] = "509871234"
	for name, v := range marked {
		for i, w := range strings.Fields(v) {
			if len(w) >= 8 {
				secrets[name+" word "+string(rune('1'+i))] = w
			}
		}
	}
	lower := strings.ToLower(logs)
	for name, v := range secrets {
		if i := strings.Index(lower, strings.ToLower(v)); i >= 0 {
			start := strings.LastIndex(logs[:i], "\n") + 1
			end := strings.Index(logs[i:], "\n")
			if end < 0 {
				end = len(logs) - i
			}
			t.Errorf("the logs hold the %s: %s", name, logs[start:i+end])
		}
	}
	t.Logf("%d log lines, %d updates, %d values checked", lines, updates, len(secrets))
}
