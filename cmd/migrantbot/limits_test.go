package main

import (
	"strings"
	"testing"

	"migrantbot/bot/telegramtest"
	"migrantbot/store/storetest"
)

// countSaid counts the bot's messages to p that contain want.
func countSaid(p *person, want string) int {
	n := 0
	for _, m := range p.tg.Messages(p.u.ID) {
		if strings.Contains(m.Plain, want) {
			n++
		}
	}
	return n
}

func TestFloodFromOnePersonIsAnsweredOnce(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	srv := startServe(t, tg, url, "PERSON_UPDATE_LIMIT", "20")
	st := openStore(t, url)

	flooder := newPerson(t, tg, 9101, "ru")
	flooder.beginAppeal("ru") // 4 updates
	var last int64
	for range 40 {
		last = tg.SendText(flooder.u, "Мамедов")
	}
	// Meanwhile, someone else writing at a human pace is not slowed down.
	calm := newPerson(t, tg, 9102, "en")
	calm.beginAppeal("en")
	calm.text("Mammadov")
	calm.wantSaid("first name")
	calm.text("Elchin")
	calm.wantSaid("patronymic")
	flooder.await(last)

	const tooFast = "слишком быстро"
	if n := countSaid(flooder, tooFast); n != 1 {
		t.Errorf("the flood was answered %d times with the request to slow down, want once", n)
	}
	// 20 updates in the window were handled: 4 to begin, 16 answers; the
	// rest were dropped unread, so the dialog moved 16 questions at most.
	s, err := st.Session(t.Context(), flooder.u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s.Draft == nil || s.Draft.Surname != "Мамедов" {
		t.Fatalf("the draft lost its first answer: %+v", s.Draft)
	}
	// Of the 44 updates, 20 were handled and 24 were over the limit: the
	// first of those was answered, the others dropped.
	var handled, limited int
	for _, line := range strings.Split(srv.logs.String(), "\n") {
		if !strings.Contains(line, `"msg":"bot: update"`) || !strings.Contains(line, `"chat":9101`) {
			continue
		}
		switch {
		case strings.Contains(line, `"outcome":"handled"`):
			handled++
		case strings.Contains(line, `"outcome":"limited"`):
			limited++
		}
	}
	if handled != 20 || limited != 24 {
		t.Errorf("flooder: %d updates handled and %d limited, want 20 and 24", handled, limited)
	}
	if n := countSaid(calm, "too quickly"); n != 0 {
		t.Errorf("the other person was told to slow down %d times", n)
	}
	checkTelegramRules(t, tg)
}

func TestThreeAppealsADay(t *testing.T) {
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	st := openStore(t, url)

	p := newPerson(t, tg, 9201, "en")
	for range 3 {
		p.fileAppeal("en")
	}
	p.text("/start")
	p.press("l:en")
	p.press("m:appeal")
	p.wantSaid("You have already sent 3 appeals in the last 24 hours")
	if n := countAppeals(t, st); n != 3 {
		t.Fatalf("%d appeals stored, want 3", n)
	}
	// The limit is the person's alone.
	other := newPerson(t, tg, 9202, "en")
	other.fileAppeal("en")
	if n := countAppeals(t, st); n != 4 {
		t.Fatalf("%d appeals stored after another person's, want 4", n)
	}
	checkTelegramRules(t, tg)
}
