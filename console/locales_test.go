package console

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"

	"migrantbot"
)

// messageFile reads one console message file as key → plural form → text;
// a simple message has the single form "other".
func messageFile(tb testing.TB, lang string) map[string]map[string]string {
	tb.Helper()
	data, err := fs.ReadFile(localeFiles, "locales/console."+lang+".toml")
	if err != nil {
		tb.Fatalf("read %s: %v", lang, err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		tb.Fatalf("parse %s: %v", lang, err)
	}
	out := map[string]map[string]string{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = map[string]string{"other": v}
		case map[string]any:
			forms := map[string]string{}
			for f, s := range v {
				text, ok := s.(string)
				if !ok {
					tb.Fatalf("%s: %s.%s is %T", lang, k, f, s)
				}
				forms[f] = text
			}
			out[k] = forms
		default:
			tb.Fatalf("%s: %s is %T", lang, k, v)
		}
	}
	return out
}

var placeholderPattern = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)

func placeholdersOf(s string) []string {
	var names []string
	for _, m := range placeholderPattern.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestEveryLanguageHasEveryKey compares each language with English: the
// same keys, none empty, the same placeholders, and the plural forms the
// language needs (CLDR: Russian one/few/many, English and Azerbaijani
// one/other).
func TestEveryLanguageHasEveryKey(t *testing.T) {
	a, err := newApp(withDefaults(Deps{}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"en", "az", "ru"}; !slices.Equal(slices.Sorted(slices.Values(a.langs)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("console languages: got %v, want %v", a.langs, want)
	}
	pluralForms := map[string][]string{"en": {"one", "other"}, "az": {"one", "other"}, "ru": {"one", "few", "many", "other"}}
	en := messageFile(t, "en")
	for _, lang := range a.langs {
		t.Run(lang, func(t *testing.T) {
			msgs := messageFile(t, lang)
			for k, enForms := range en {
				forms, ok := msgs[k]
				if !ok {
					t.Errorf("missing %s", k)
					continue
				}
				want := []string{"other"}
				if len(enForms) > 1 {
					want = pluralForms[lang]
				}
				for _, f := range want {
					if strings.TrimSpace(forms[f]) == "" {
						t.Errorf("%s: form %q missing or empty", k, f)
					}
					if !slices.Equal(placeholdersOf(forms[f]), placeholdersOf(enForms["other"])) {
						t.Errorf("%s.%s: placeholders %v, English has %v", k, f, placeholdersOf(forms[f]), placeholdersOf(enForms["other"]))
					}
				}
			}
			for k := range msgs {
				if _, ok := en[k]; !ok {
					t.Errorf("extra key %s (not in English)", k)
				}
			}
			if lang != "en" {
				same := 0
				for k, f := range msgs {
					if f["other"] == en[k]["other"] && !strings.HasPrefix(k, "lang_") {
						same++
					}
				}
				if same > 5 {
					t.Errorf("%d messages are the same as in English: untranslated?", same)
				}
			}
		})
	}
}

// TestEveryMessageUsedExists finds the message ids the templates and the
// code use, and the ids made from codes (statuses, categories, ...), and
// checks that English has each: a missing one would show its id.
func TestEveryMessageUsedExists(t *testing.T) {
	en := messageFile(t, "en")
	prefixes := map[string]bool{}
	for k := range en {
		prefixes[strings.SplitN(k, "_", 2)[0]] = true
	}
	var used []string
	id := regexp.MustCompile(`"([a-z]+_[a-z0-9_]+)"`)
	sources, _ := filepath.Glob("*.go")
	templates, _ := filepath.Glob("templates/*.html")
	for _, name := range append(sources, templates...) {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range id.FindAllStringSubmatch(string(data), -1) {
			if prefixes[strings.SplitN(m[1], "_", 2)[0]] && !strings.Contains(m[1], "%") {
				used = append(used, m[1])
			}
		}
	}
	for _, s := range statuses() {
		used = append(used, "status_"+string(s))
	}
	for _, c := range migrantbot.Categories {
		used = append(used, "cat_"+c)
	}
	for _, p := range migrantbot.Partners {
		used = append(used, "partner_"+p)
	}
	for _, c := range knownCountries() {
		used = append(used, "country_"+c)
	}
	for _, l := range migrantbot.Languages {
		used = append(used, "lang_"+l)
	}
	for _, w := range []string{migrantbot.WhenThisMonth, migrantbot.WhenLastYear, migrantbot.WhenOverYear} {
		used = append(used, "when_"+w)
	}
	for _, r := range []migrantbot.Role{migrantbot.RoleAdmin, migrantbot.RoleReviewer} {
		used = append(used, "role_"+string(r))
	}
	for _, k := range []string{migrantbot.EntryMigrant, migrantbot.EntryReply, migrantbot.EntryNote, migrantbot.EntryStatus, migrantbot.EntryReferral, migrantbot.EntryAssign} {
		used = append(used, "entry_"+k)
	}
	for _, d := range []string{migrantbot.DeliveryPending, migrantbot.DeliverySent, migrantbot.DeliveryBlocked, migrantbot.DeliveryFailed} {
		used = append(used, "delivery_"+d)
	}
	used = append(used, "file_photo", "file_document")
	slices.Sort(used)
	for _, k := range slices.Compact(used) {
		if _, ok := en[k]; !ok {
			t.Errorf("message %s is used but not in console.en.toml", k)
		}
	}
	if len(used) < 100 {
		t.Errorf("found only %d used messages: is the scan broken?", len(used))
	}
}

// TestPluralForms checks the plural message through go-i18n itself.
func TestPluralForms(t *testing.T) {
	a, err := newApp(withDefaults(Deps{}))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		lang string
		n    int
		want string
	}{
		{"en", 1, "over 1 answered appeal"},
		{"en", 2, "over 2 answered appeals"},
		{"ru", 1, "по 1 обращению с ответом"},
		{"ru", 3, "по 3 обращениям с ответом"},
		{"ru", 11, "по 11 обращениям с ответом"},
		{"az", 5, "5 cavablandırılmış müraciət üzrə"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s %d", tc.lang, tc.n), func(t *testing.T) {
			v := &view{loc: i18n.NewLocalizer(a.bundle, tc.lang)}
			if got := v.T("stats_median_over", "Count", tc.n); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
