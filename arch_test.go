package migrantbot_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDependenciesPointInward holds the layout of DESIGN.md: the domain uses
// only the standard library, the dialogs know neither Telegram nor SQL, and
// the adapters do not import each other.
func TestDependenciesPointInward(t *testing.T) {
	rules := []struct {
		dir       string
		forbidden []string
	}{
		{".", []string{"migrantbot/", "github.com/", "golang.org/"}},
		{"flows", []string{"migrantbot/bot", "migrantbot/store", "migrantbot/termchat", "migrantbot/sealed", "github.com/go-telegram-bot-api", "github.com/jackc"}},
		{"bot", []string{"migrantbot/store", "migrantbot/flows", "migrantbot/termchat", "github.com/jackc", "github.com/prometheus"}},
		{"metrics", []string{"migrantbot/store", "migrantbot/bot", "migrantbot/flows", "migrantbot/console", "github.com/jackc", "github.com/go-telegram-bot-api"}},
		{"sealed", []string{"migrantbot/", "github.com/"}},
		{"termchat", []string{"migrantbot/store", "migrantbot/flows", "migrantbot/bot"}},
		{"store", []string{"migrantbot/bot", "migrantbot/flows", "migrantbot/termchat", "github.com/go-telegram-bot-api"}},
		{"locales", []string{"migrantbot/"}},
		{"console", []string{"migrantbot/store", "migrantbot/bot", "migrantbot/flows", "migrantbot/termchat", "github.com/jackc", "github.com/go-telegram-bot-api"}},
	}
	for _, r := range rules {
		files, err := filepath.Glob(filepath.Join(r.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", r.dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range r.forbidden {
					if strings.HasPrefix(path, bad) && path != "migrantbot" {
						t.Errorf("%s imports %s", f, path)
					}
				}
			}
		}
	}
}
