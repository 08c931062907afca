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

// handleContent serves the content page. The content is embedded in the
// binary, so it is read and checked once, not on every view.
func (a *app) handleContent() http.Handler {
	languages, topics, problems, err := readContent(a.langs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: content: %w", err))
			return
		}
		p := &contentPage{Languages: languages, Problems: problems}
		v := a.newView(r, "content_title", p)
		p.Topics = topics[v.Lang]
		if p.Topics == nil {
			p.Topics = topics["en"]
		}
		a.render(w, r, http.StatusOK, "content", v)
	})
}

// readContent reads what the content page shows: the bot's languages with
// their review status, the articles titled in each console language, and
// the content check's report.
func readContent(consoleLangs []string) ([]contentLanguage, map[string][]contentTopic, []string, error) {
	cat, err := locales.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	var languages []contentLanguage
	for _, lang := range cat.Languages {
		name, review, err := cat.About(lang)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", lang, err)
		}
		languages = append(languages, contentLanguage{Tag: lang, Name: name, Review: review})
	}
	topics := map[string][]contentTopic{}
	for _, lang := range consoleLangs {
		texts, err := cat.Messages("rights." + lang + ".toml")
		if err != nil {
			continue // the bot does not speak this console language; English is shown
		}
		for _, c := range cat.Rights.Categories {
			for _, t := range c.Topics {
				topics[lang] = append(topics[lang], contentTopic{Category: texts["rights_cat_"+c.ID], ID: t.ID,
					Title: texts["rights_"+t.ID+"_title"], Source: t.Source, Reviewed: t.Reviewed})
			}
		}
	}
	return languages, topics, locales.Check(locales.Files()), nil
}
