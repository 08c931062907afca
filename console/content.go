package console

import (
	"fmt"
	"net/http"

	"migrantbot/locales"
)

// contentPage shows staff what the bot tells people: each language with how
// carefully it was reviewed, and each article with its source and review date.
type contentPage struct {
	Languages []contentLanguage
	Topics    []contentTopic
	Problems  []string
}

type contentLanguage struct {
	Tag, Name, Review string
}

type contentTopic struct {
	Category, ID, Title, Source, Reviewed string
}

func (a *app) handleContent() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cat, err := locales.Load()
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: content: %w", err))
			return
		}
		p := &contentPage{Problems: locales.Check(locales.Files())}
		for _, lang := range cat.Languages {
			name, review, err := cat.About(lang)
			if err != nil {
				a.serverError(w, r, fmt.Errorf("console: content %s: %w", lang, err))
				return
			}
			p.Languages = append(p.Languages, contentLanguage{Tag: lang, Name: name, Review: review})
		}
		v := a.newView(r, "content_title", p)
		en, err := cat.Messages("rights." + v.Lang + ".toml")
		if err != nil {
			en, _ = cat.Messages("rights.en.toml")
		}
		for _, c := range cat.Rights.Categories {
			for _, t := range c.Topics {
				p.Topics = append(p.Topics, contentTopic{Category: en["rights_cat_"+c.ID], ID: t.ID,
					Title: en["rights_"+t.ID+"_title"], Source: t.Source, Reviewed: t.Reviewed})
			}
		}
		a.render(w, r, http.StatusOK, "content", v)
	})
}
