package flows

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"migrantbot"
)

func TestOverTheUpdateLimitNothingChanges(t *testing.T) {
	e := newEngine(t)
	states := append([]string{StateMenu, StateRights, StateConsent, StateReview, StateFollowUp}, appealSteps...)
	for _, st := range states {
		c := newChat(t, e)
		c.s = migrantbot.Session{ChatID: 1, UserID: 1, Lang: "en", State: st, Draft: fullDraft()}
		before := c.s
		turn := c.send(migrantbot.Input{Kind: migrantbot.InputLimited})
		if !reflect.DeepEqual(turn.Session, before) {
			t.Errorf("state %s: the session changed over the limit: %+v", st, turn.Session)
		}
		if len(turn.Messages) != 1 || !strings.HasPrefix(turn.Messages[0].Text, c.msg("err_too_fast")) {
			t.Errorf("state %s: said %q, want only err_too_fast", st, texts(turn))
		}
		if turn.Submit != nil || len(turn.FollowUps) > 0 {
			t.Errorf("state %s: effects over the limit", st)
		}
	}
}

func TestAppealsPerDay(t *testing.T) {
	e := newEngine(t)
	recent := func(ago ...time.Duration) []migrantbot.AppealSummary {
		var list []migrantbot.AppealSummary
		for _, d := range ago {
			list = append(list, migrantbot.AppealSummary{Reference: "AP-2026-00000" + d.String()[:1], Category: "labour", Status: migrantbot.StatusNew, SubmittedAt: now.Add(-d)})
		}
		return list
	}
	tests := []struct {
		name    string
		appeals []migrantbot.AppealSummary
		allowed bool
	}{
		{"none before", nil, true},
		{"two today", recent(time.Hour, 2*time.Hour), true},
		{"three today", recent(time.Hour, 2*time.Hour, 3*time.Hour), false},
		{"three, one of them yesterday", recent(time.Hour, 2*time.Hour, 25*time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChat(t, e)
			c.rec.appeals = tt.appeals
			c.toMenu()
			c.press("m:appeal")
			if !tt.allowed {
				c.wantState(StateMenu)
				c.wantSaid("err_appeal_limit")
				return
			}
			c.wantState(StateConsent)
		})
	}

	t.Run("limit reached while a draft was open", func(t *testing.T) {
		c := newChat(t, e)
		c.toMenu()
		c.fillAppeal()
		c.rec.appeals = recent(time.Hour, 2*time.Hour, 23*time.Hour)
		c.press("a:review:submit")
		c.wantSaid("err_appeal_limit")
		if c.last.Submit != nil {
			t.Fatal("an appeal over the daily limit was submitted")
		}
		if c.s.Draft == nil || c.s.Draft.Surname != "Aliyev" {
			t.Fatalf("the draft was lost: %+v", c.s.Draft)
		}
		if got := c.msg("err_appeal_limit"); got == "" {
			t.Fatal("no limit message")
		}
		// A day later the kept draft goes through.
		c.send(migrantbot.Input{Kind: migrantbot.InputButton, Data: "a:review:submit", MessageID: 7, Now: now.Add(2 * time.Hour)})
		if c.last.Submit == nil {
			t.Fatalf("the kept draft was not submitted once the day passed; said %q", texts(c.last))
		}
	})
}

func TestFilesOverTenMegabytesAreRefused(t *testing.T) {
	e := newEngine(t)
	c := newChat(t, e)
	c.toMenu()
	c.press("m:appeal")
	c.press("a:consent:yes")
	c.s.State = StateAttachments
	c.send(migrantbot.Input{Kind: migrantbot.InputFile, File: &migrantbot.Attachment{FileID: "f", FileUniqueID: "u", Kind: "document", Size: 10<<20 + 1}})
	c.wantSaid("err_file_big")
	if n := len(c.s.Draft.Attachments); n != 0 {
		t.Fatalf("%d attachments kept, want none", n)
	}
	c.send(migrantbot.Input{Kind: migrantbot.InputFile, File: &migrantbot.Attachment{FileID: "g", FileUniqueID: "v", Kind: "document", Size: 10 << 20}})
	if n := len(c.s.Draft.Attachments); n != 1 {
		t.Fatalf("%d attachments kept, want the 10 MB one", n)
	}
}
