package flows

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"migrantbot"
)

// Weights of where a word stands in a topic: people's own words (keywords)
// and titles say more about a topic than a word somewhere in its body.
const (
	weightKeyword = 3.0
	weightTitle   = 3.0
	weightBody    = 1.0
	// minScore keeps a lone common word from finding a topic.
	minScore = 1.5
	// searchResults is how many topics an answer offers.
	searchResults = 3
)

// searchIndex holds, per language, the words of every topic.
type searchIndex map[string][]topicWords

type topicWords struct {
	id    string
	words []weightedWord
}

// weightedWord is a folded word of a topic, kept as runes so that a search
// compares without converting, with its weight in the topic.
type weightedWord struct {
	runes  []rune
	weight float64
}

var markup = regexp.MustCompile(`<[^>]*>|&[a-z]+;|&#\d+;`)

// buildIndex reads the titles, bodies and keywords of every topic in every
// language. A language without its rights file is left out of search.
func (e *Engine) buildIndex() error {
	e.index = searchIndex{}
	for _, lang := range e.cat.Languages {
		msgs, err := e.cat.Messages("rights." + lang + ".toml")
		if err != nil {
			return fmt.Errorf("flows: search index for %s: %w", lang, err)
		}
		for _, c := range e.cat.Rights.Categories {
			for _, tp := range c.Topics {
				weights := map[string]float64{}
				add := func(text string, w float64) {
					for _, word := range words(lang, markup.ReplaceAllString(text, " ")) {
						weights[word] = math.Max(weights[word], w)
					}
				}
				add(msgs["rights_"+tp.ID+"_body"], weightBody)
				add(msgs["rights_cat_"+c.ID], weightBody)
				add(msgs["rights_"+tp.ID+"_title"], weightTitle)
				add(msgs["rights_"+tp.ID+"_keywords"], weightKeyword)
				tw := topicWords{id: tp.ID}
				for w, weight := range weights {
					tw.words = append(tw.words, weightedWord{runes: []rune(w), weight: weight})
				}
				e.index[lang] = append(e.index[lang], tw)
			}
		}
	}
	return nil
}

// folding maps letters people often type without their marks.
var folding = strings.NewReplacer(
	"ə", "e", "ş", "s", "ç", "c", "ğ", "g", "ı", "i", "ö", "o", "ü", "u", "i̇", "i", "â", "a", "î", "i", "û", "u",
	"ё", "е", "ʻ", "", "’", "", "'", "", "ʼ", "",
	"ي", "ی", "ك", "ک", "ة", "ه", "\u200c", "",
)

// stopwords are frequent words that say nothing about a topic; the weighting
// by rarity handles most, these few it cannot with 16 topics.
var stopwords = map[string]bool{
	"are": true, "they": true, "can": true, "the": true, "what": true, "you": true, "your": true, "and": true,
	"for": true, "with": true, "this": true, "that": true, "have": true, "was": true, "will": true, "from": true,
	"что": true, "как": true, "мне": true, "меня": true, "мой": true, "моя": true, "это": true, "для": true,
	"ucun": true, "menim": true, "bunu": true,
}

// words splits a text into folded words of three letters or more.
func words(lang, text string) []string {
	text = strings.ToLower(text)
	if lang == "tr" || lang == "az" {
		text = strings.ReplaceAll(text, "İ", "i")
	}
	text = folding.Replace(text)
	var out []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r)
	}) {
		if len([]rune(w)) >= 3 && !stopwords[w] {
			out = append(out, w)
		}
	}
	return out
}

// similar says how well a typed word matches a topic's word: 1 for the same
// word, less for the same stem (a crude stemmer that works across the
// languages: a long common beginning, as in паспорт/паспорта or
// задержали/задержание).
func similar(q, t []rune) float64 {
	p := 0
	for p < len(q) && p < len(t) && q[p] == t[p] {
		p++
	}
	shorter := min(len(q), len(t))
	switch {
	case p == len(q) && p == len(t):
		return 1
	case p == shorter && shorter >= 4:
		return 0.9
	case p >= 5 && p*10 >= shorter*7:
		return 0.7
	}
	return 0
}

// search returns the ids of the topics that best answer a typed question.
func (e *Engine) search(lang, question string) []string {
	topics := e.index[lang]
	if len(topics) == 0 {
		return nil
	}
	scores := make([]float64, len(topics))
	for _, q := range words(lang, question) {
		qr := []rune(q)
		best := make([]float64, len(topics))
		df := 0
		for i, tp := range topics {
			for _, w := range tp.words {
				if s := similar(qr, w.runes); s > 0 {
					best[i] = math.Max(best[i], s*w.weight)
				}
			}
			if best[i] > 0 {
				df++
			}
		}
		if df == 0 {
			continue
		}
		// A word found in many topics tells little about which one is meant.
		idf := math.Log(1 + float64(len(topics))/float64(df))
		for i := range topics {
			scores[i] += best[i] * idf
		}
	}
	order := make([]int, len(topics))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	var ids []string
	for _, i := range order {
		if scores[i] < minScore || len(ids) == searchResults {
			break
		}
		ids = append(ids, topics[i].id)
	}
	return ids
}

// answerQuestion offers the topics that match a typed question, or the menu.
func (t *turn) answerQuestion(text string) error {
	ids := t.e.search(t.lang, text)
	if len(ids) == 0 {
		t.say(t.tr("search_none"))
		return t.toMenu()
	}
	var rows [][]migrantbot.Button
	for _, id := range ids {
		rows = append(rows, []migrantbot.Button{{Text: t.tr("rights_" + id + "_title"), Data: "r:t:" + id}})
	}
	rows = append(rows,
		[]migrantbot.Button{t.button("menu_appeal", "m:appeal")},
		[]migrantbot.Button{t.button("btn_contacts", "m:contacts"), t.button("btn_main_menu", "m:menu")})
	t.say(t.tr("search_results"), rows...)
	return nil
}
