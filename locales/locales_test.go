package locales_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"migrantbot/locales"
)

// TestContent is the content check an editor runs: the same report as
// `migrantbot content check`. Each problem is one line naming file and key.
func TestContent(t *testing.T) {
	for _, p := range locales.Check(locales.Files()) {
		t.Error(p)
	}
	cat, err := locales.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"en", "az", "ru"} {
		if !slices.Contains(cat.Languages, want) {
			t.Errorf("languages %v lack %s", cat.Languages, want)
		}
	}
}

// TestCheckFindsProblems proves the check catches what an editor can break.
func TestCheckFindsProblems(t *testing.T) {
	good := map[string]string{}
	names, _ := fs.Glob(locales.Files(), "*.toml")
	for _, n := range names {
		data, _ := fs.ReadFile(locales.Files(), n)
		good[n] = string(data)
	}
	tests := []struct {
		name   string
		change func(files map[string]string)
		want   string
	}{
		{"missing key", func(f map[string]string) {
			f["active.az.toml"] = strings.Replace(f["active.az.toml"], "btn_back =", "btn_back_gone =", 1)
		}, "active.az.toml: missing btn_back"},
		{"extra key", func(f map[string]string) { f["active.ru.toml"] += "\nnot_in_english = \"x\"\n" }, "extra key not_in_english"},
		{"placeholder lost", func(f map[string]string) {
			f["active.ru.toml"] = strings.Replace(f["active.ru.toml"], "{{.Reference}}", "AP", 1)
		}, "placeholders"},
		{"bad html", func(f map[string]string) { f["active.en.toml"] += "\nzz_bad = \"<b>open\"\n" }, "unclosed"},
		{"bare ampersand", func(f map[string]string) { f["active.en.toml"] += "\nzz_amp = \"this & that\"\n" }, "unescaped"},
		{"body too long", func(f map[string]string) {
			f["rights.en.toml"] += "\nrights_zz_body = \"" + strings.Repeat("long ", 200) + "\"\n"
		}, "as displayed, at most 900"},
		{"no review date", func(f map[string]string) {
			f["rights.toml"] = strings.Replace(f["rights.toml"], `reviewed = "2026-11-26"`, `reviewed = "soon"`, 1)
		}, "reviewed \"soon\""},
		{"no source", func(f map[string]string) {
			f["rights.toml"] = strings.Replace(f["rights.toml"], `source = "`, `oldsource = "`, 1)
		}, "has no source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range good {
				files[k] = v
			}
			tc.change(files)
			fsys := fstest.MapFS{}
			for k, v := range files {
				fsys[k] = &fstest.MapFile{Data: []byte(v)}
			}
			problems := locales.Check(fsys)
			found := false
			for _, p := range problems {
				found = found || strings.Contains(p, tc.want)
			}
			if !found {
				t.Errorf("check did not report %q; it said %q", tc.want, problems)
			}
		})
	}
}
