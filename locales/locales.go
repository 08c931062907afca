// Package locales holds the texts the bot shows, one go-i18n message file per
// language (active.<lang>.toml for the dialogs, rights.<lang>.toml for the rights
// information), and rights.toml, the structure of the rights information written
// once for all languages. Adding a language is adding its files.
package locales

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed *.toml
var files embed.FS

// Catalog is everything the dialogs need to speak: the message bundle and the
// structure of the rights information.
type Catalog struct {
	Bundle    *i18n.Bundle
	Languages []string // language tags that have message files, in the order of the language menu
	Rights    Rights
	fsys      fs.FS
}

// Rights is the structure of the "Know your rights" information.
type Rights struct {
	Categories []Category `toml:"category"`
}

// Category is a group of rights topics. Its title is the message rights_cat_<ID>.
type Category struct {
	ID string `toml:"id"`
	// Appeal is the appeal category that "Submit an appeal about this"
	// starts with from the category's articles.
	Appeal string  `toml:"appeal"`
	Topics []Topic `toml:"topic"`
}

// Topic is one short article. Its texts are the messages rights_<ID>_title,
// rights_<ID>_body and rights_<ID>_keywords (words people type, for search).
type Topic struct {
	ID       string `toml:"id"`
	Source   string `toml:"source"`   // the law or official page the article rests on
	Reviewed string `toml:"reviewed"` // date of the last review, 2006-01-02
}

// Load reads the embedded message files and the rights structure.
func Load() (*Catalog, error) { return LoadFS(files) }

// LoadFS reads message files and the rights structure from fsys.
func LoadFS(fsys fs.FS) (*Catalog, error) {
	b := i18n.NewBundle(language.English)
	// Files are embedded and checked by tests and `migrantbot content check`;
	// a malformed one is refused here with its name.
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	names, err := fs.Glob(fsys, "*.*.toml")
	if err != nil {
		return nil, fmt.Errorf("locales: list files: %w", err)
	}
	var langs []string
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("locales: read %s: %w", name, err)
		}
		if _, err := b.ParseMessageFileBytes(data, name); err != nil {
			return nil, fmt.Errorf("locales: parse %s: %w", name, err)
		}
		lang := LangOf(name)
		if !slices.Contains(langs, lang) {
			langs = append(langs, lang)
		}
	}
	// The language menu lists the languages in this order: the country's
	// language, then by how many people write to the office in it.
	order := []string{"az", "ru", "en", "tr", "uz", "ky", "tg", "ka", "fa"}
	rank := func(l string) int {
		if i := slices.Index(order, l); i >= 0 {
			return i
		}
		return len(order)
	}
	slices.SortFunc(langs, func(a, b string) int {
		if r := rank(a) - rank(b); r != 0 {
			return r
		}
		return strings.Compare(a, b)
	})
	var r Rights
	data, err := fs.ReadFile(fsys, "rights.toml")
	if err != nil {
		return nil, fmt.Errorf("locales: read rights.toml: %w", err)
	}
	if err := toml.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("locales: parse rights.toml: %w", err)
	}
	return &Catalog{Bundle: b, Languages: langs, Rights: r, fsys: fsys}, nil
}

// LangOf returns the language tag of a message file name: "az" for active.az.toml.
func LangOf(name string) string {
	parts := strings.Split(path.Base(name), ".")
	if len(parts) < 3 {
		return ""
	}
	return parts[len(parts)-2]
}

// Files returns the embedded files, for checks.
func Files() fs.FS { return files }
