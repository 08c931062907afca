package locales

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Limits of the rights information.
const (
	// MaxBody is how long an article's body may be as displayed: one screen
	// on a phone.
	MaxBody = 900
	// MaxMessage is Telegram's limit for one message.
	MaxMessage = 4096
)

var (
	placeholderRE = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)
	tagRE         = regexp.MustCompile(`<(/?)([a-z-]+)(?:\s[^>]*)?>`)
	entityRE      = regexp.MustCompile(`&(lt|gt|amp|quot|#\d+);`)
	idRE          = regexp.MustCompile(`^[a-z_]{1,24}$`)
	dateRE        = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	allowedTags   = map[string]bool{"b": true, "i": true, "a": true, "u": true, "s": true, "code": true}
)

// Check reports everything wrong with the message files and the rights
// structure in fsys, one line per problem, in the order an editor fixes them:
// structure, then each language against English. No lines means all is well.
func Check(fsys fs.FS) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	cat, err := LoadFS(fsys)
	if err != nil {
		return []string{err.Error()}
	}
	seen := map[string]bool{}
	if len(cat.Rights.Categories) < 6 {
		add("rights.toml: %d categories, want at least 6", len(cat.Rights.Categories))
	}
	for _, c := range cat.Rights.Categories {
		if !idRE.MatchString(c.ID) {
			add("rights.toml: category id %q: use 1-24 of a-z and _", c.ID)
		}
		if len(c.Topics) < 2 {
			add("rights.toml: category %s has %d topics, want at least 2", c.ID, len(c.Topics))
		}
		for _, t := range c.Topics {
			switch {
			case !idRE.MatchString(t.ID):
				add("rights.toml: topic id %q: use 1-24 of a-z and _", t.ID)
			case seen[t.ID]:
				add("rights.toml: topic id %q is used twice", t.ID)
			}
			seen[t.ID] = true
			if t.Source == "" {
				add("rights.toml: topic %s has no source", t.ID)
			}
			if !dateRE.MatchString(t.Reviewed) {
				add("rights.toml: topic %s: reviewed %q, want a date like 2026-11-26", t.ID, t.Reviewed)
			}
		}
	}
	for _, base := range []string{"active", "rights"} {
		en, err := readMessages(fsys, base+".en.toml")
		if err != nil {
			add("%v", err)
			continue
		}
		if base == "rights" {
			for _, c := range cat.Rights.Categories {
				for _, key := range []string{"rights_cat_" + c.ID} {
					if en[key] == "" {
						add("rights.en.toml: missing %s", key)
					}
				}
				for _, t := range c.Topics {
					for _, part := range []string{"title", "body", "keywords"} {
						if en["rights_"+t.ID+"_"+part] == "" {
							add("rights.en.toml: missing rights_%s_%s", t.ID, part)
						}
					}
				}
			}
		}
		for _, lang := range cat.Languages {
			name := base + "." + lang + ".toml"
			msgs, err := readMessages(fsys, name)
			if err != nil {
				add("%v", err)
				continue
			}
			for _, k := range sortedKeys(en) {
				v, ok := msgs[k]
				switch {
				case !ok:
					add("%s: missing %s", name, k)
				case strings.TrimSpace(v) == "":
					add("%s: %s is empty", name, k)
				case !slices.Equal(placeholders(v), placeholders(en[k])):
					add("%s: %s has placeholders %v, English has %v", name, k, placeholders(v), placeholders(en[k]))
				}
			}
			for _, k := range sortedKeys(msgs) {
				v := msgs[k]
				if _, ok := en[k]; !ok {
					add("%s: extra key %s (not in English)", name, k)
				}
				if p := htmlProblem(v); p != "" {
					add("%s: %s: %s", name, k, p)
				}
				if strings.HasSuffix(k, "_body") {
					if n := Displayed(v); n > MaxBody {
						add("%s: %s is %d characters as displayed, at most %d", name, k, n, MaxBody)
					}
				}
			}
		}
	}
	return problems
}

// Displayed is the length of a text as Telegram shows it: without tags, with
// entities as one character.
func Displayed(s string) int {
	s = tagRE.ReplaceAllString(s, "")
	s = entityRE.ReplaceAllString(s, "x")
	return utf8.RuneCountInString(strings.TrimSpace(s))
}

// htmlProblem says what is wrong with a text as Telegram HTML, or "".
func htmlProblem(v string) string {
	var open []string
	for _, m := range tagRE.FindAllStringSubmatch(v, -1) {
		if !allowedTags[m[2]] {
			return fmt.Sprintf("tag <%s> is not allowed", m[2])
		}
		if m[1] == "" {
			open = append(open, m[2])
		} else if len(open) == 0 || open[len(open)-1] != m[2] {
			return fmt.Sprintf("</%s> does not close the open tag", m[2])
		} else {
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		return fmt.Sprintf("unclosed %v", open)
	}
	rest := entityRE.ReplaceAllString(tagRE.ReplaceAllString(v, ""), "")
	if strings.ContainsAny(rest, "<>&") {
		return "unescaped < > or & (write &lt; &gt; &amp;)"
	}
	return ""
}

func placeholders(s string) []string {
	var names []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func readMessages(fsys fs.FS, name string) (map[string]string, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := map[string]string{}
	for k, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a text", name, k)
		}
		out[k] = s
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Messages returns the texts of one message file, for search and checks.
func (c *Catalog) Messages(name string) (map[string]string, error) {
	return readMessages(c.fsys, name)
}

// About returns a language's own name and how carefully its texts were
// reviewed, as its message file says.
func (c *Catalog) About(lang string) (name, review string, err error) {
	msgs, err := readMessages(c.fsys, "active."+lang+".toml")
	if err != nil {
		return "", "", err
	}
	return msgs["lang_name"], msgs["meta_review"], nil
}
