package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/nicksnyder/go-i18n/v2/i18n"

	"migrantbot/bot/telegramtest"
	"migrantbot/locales"
	"migrantbot/store/storetest"
)

// TestRightsInEveryLanguage walks, in every language, from the main menu to
// every article and back through the Bot API double: each article fits one
// message, shows its source and review date, shows no untranslated key, and
// its buttons (contacts, an appeal about it, back) work.
func TestRightsInEveryLanguage(t *testing.T) {
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Languages) < 9 {
		t.Errorf("languages: got %v, want nine", cat.Languages)
	}
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	startServe(t, tg, url)
	key := regexp.MustCompile(`\b(rights|btn|menu|cmd|err|q|contacts|status|cat|country)_[a-z_]+\b`)
	for i, lang := range cat.Languages {
		t.Run(lang, func(t *testing.T) {
			loc := i18n.NewLocalizer(cat.Bundle, lang)
			tr := func(id string) string {
				s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: id})
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				return s
			}
			p := newPerson(t, tg, int64(7000+i), lang)
			p.text("/start")
			p.press("l:" + lang)
			p.press("m:rights")
			check := func(what string) telegramtest.Sent {
				t.Helper()
				last := p.lastSent[len(p.lastSent)-1]
				if m := key.FindString(last.Plain); m != "" {
					t.Errorf("%s shows the untranslated key %s", what, m)
				}
				return last
			}
			check("the categories")
			for _, c := range cat.Rights.Categories {
				p.press("r:c:" + c.ID)
				check("category " + c.ID)
				for _, tp := range c.Topics {
					p.press("r:t:" + tp.ID)
					article := check("article " + tp.ID)
					title := tr("rights_" + tp.ID + "_title")
					if !strings.Contains(article.Plain, title) || !strings.Contains(article.Plain, tp.Reviewed) || !strings.Contains(article.Plain, tp.Source[:20]) {
						t.Errorf("article %s lacks its title, source or review date:\n%s", tp.ID, article.Plain)
					}
					p.press("m:contacts")
					if last := check("contacts"); !strings.Contains(last.Plain, tr("contacts_title")) || !strings.Contains(last.Plain, "916") {
						t.Errorf("contacts from %s: %q", tp.ID, last.Plain)
					}
					// Back to the category from the message that showed the contacts.
					p.await(tg.PressData(p.u, article.MessageID, "r:c:"+c.ID))
				}
				p.await(tg.PressData(p.u, p.lastSent[len(p.lastSent)-1].MessageID, "r:"))
			}
			p.press("m:menu")
			check("the menu")
			// An appeal about an article starts with the consent, its category chosen.
			p.press("m:rights")
			p.press("r:c:work")
			p.press("r:t:wages")
			p.press("m:appeal:labour")
			p.wantButton("a:consent:yes")
		})
	}
	checkTelegramRules(t, tg)
}
