package locales_test

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"migrantbot/locales"
)

// messages reads one message file as key → text.
func messages(tb testing.TB, name string) map[string]string {
	tb.Helper()
	data, err := fs.ReadFile(locales.Files(), name)
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		tb.Fatalf("parse %s: %v", name, err)
	}
	out := map[string]string{}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			tb.Fatalf("%s: %s is %T, want a string", name, k, v)
		}
		out[k] = s
	}
	return out
}

var placeholder = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestEveryLanguageHasEveryKey compares each language's files with English:
// the same keys, none extra, and the same template placeholders.
func TestEveryLanguageHasEveryKey(t *testing.T) {
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"active", "rights"} {
		en := messages(t, base+".en.toml")
		for _, lang := range cat.Languages[1:] {
			name := fmt.Sprintf("%s.%s.toml", base, lang)
			t.Run(name, func(t *testing.T) {
				other := messages(t, name)
				for k, v := range en {
					tr, ok := other[k]
					switch {
					case !ok:
						t.Errorf("missing %s", k)
					case strings.TrimSpace(tr) == "":
						t.Errorf("%s is empty", k)
					case !slices.Equal(placeholders(v), placeholders(tr)):
						t.Errorf("%s: placeholders %v, English has %v", k, placeholders(tr), placeholders(v))
					}
				}
				for k := range other {
					if _, ok := en[k]; !ok {
						t.Errorf("extra key %s (not in English)", k)
					}
				}
			})
		}
	}
	if len(cat.Languages) < 3 {
		t.Errorf("languages: got %v, want at least en, az, ru", cat.Languages)
	}
}

var tagRE = regexp.MustCompile(`<(/?)([a-z]+)(?:\s[^>]*)?>`)

// TestTextsAreValidTelegramHTML checks that every text uses only Telegram's
// tags, properly nested, and escapes & < > as entities.
func TestTextsAreValidTelegramHTML(t *testing.T) {
	names, _ := fs.Glob(locales.Files(), "*.*.toml")
	allowed := map[string]bool{"b": true, "i": true, "a": true, "u": true, "s": true, "code": true}
	for _, name := range names {
		for k, v := range messages(t, name) {
			var open []string
			for _, m := range tagRE.FindAllStringSubmatch(v, -1) {
				if !allowed[m[2]] {
					t.Errorf("%s %s: tag <%s> is not allowed", name, k, m[2])
				}
				if m[1] == "" {
					open = append(open, m[2])
				} else if len(open) == 0 || open[len(open)-1] != m[2] {
					t.Errorf("%s %s: </%s> does not close the open tag", name, k, m[2])
				} else {
					open = open[:len(open)-1]
				}
			}
			if len(open) > 0 {
				t.Errorf("%s %s: unclosed %v", name, k, open)
			}
			rest := tagRE.ReplaceAllString(v, "")
			rest = regexp.MustCompile(`&(lt|gt|amp|quot|#\d+);`).ReplaceAllString(rest, "")
			if strings.ContainsAny(rest, "<>&") {
				t.Errorf("%s %s: unescaped < > or &", name, k)
			}
		}
	}
}

// TestRightsContent checks the structure of the rights information: enough
// categories and topics, a source and review date on each, and short bodies.
func TestRightsContent(t *testing.T) {
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cat.Rights.Categories); n < 6 {
		t.Errorf("got %d categories, want at least 6", n)
	}
	idRE := regexp.MustCompile(`^[a-z_]{1,24}$`)
	seen := map[string]bool{}
	for _, c := range cat.Rights.Categories {
		if !idRE.MatchString(c.ID) {
			t.Errorf("category id %q: want 1-24 of a-z and _", c.ID)
		}
		if len(c.Topics) < 2 {
			t.Errorf("category %s: %d topics, want at least 2", c.ID, len(c.Topics))
		}
		for _, tp := range c.Topics {
			if !idRE.MatchString(tp.ID) || seen[tp.ID] {
				t.Errorf("topic id %q: not valid or used twice", tp.ID)
			}
			seen[tp.ID] = true
			if tp.Source == "" || !regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`).MatchString(tp.Reviewed) {
				t.Errorf("topic %s: source %q, reviewed %q", tp.ID, tp.Source, tp.Reviewed)
			}
		}
	}
	for _, lang := range cat.Languages {
		texts := messages(t, "rights."+lang+".toml")
		for _, c := range cat.Rights.Categories {
			if texts["rights_cat_"+c.ID] == "" {
				t.Errorf("%s: no title for category %s", lang, c.ID)
			}
			for _, tp := range c.Topics {
				body := texts["rights_"+tp.ID+"_body"]
				shown := utf8.RuneCountInString(tagRE.ReplaceAllString(body, ""))
				if texts["rights_"+tp.ID+"_title"] == "" || shown == 0 || shown > 900 {
					t.Errorf("%s: topic %s: title %q, body of %d characters (want 1-900)", lang, tp.ID, texts["rights_"+tp.ID+"_title"], shown)
				}
			}
		}
	}
}
