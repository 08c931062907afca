package console

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"migrantbot"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

//go:embed locales/*.toml
var localeFiles embed.FS

// app holds what every handler shares: the dependencies, the parsed pages
// and the message bundle.
type app struct {
	deps   Deps
	pages  map[string]*template.Template
	bundle *i18n.Bundle
	langs  []string // the console's languages, English first
	// dummyHash is checked when a login names no account, so that an
	// unknown email takes as long to refuse as a wrong password.
	dummyHash string
}

func newApp(deps Deps) (*app, error) {
	bundle, langs, err := loadBundle(localeFiles)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages(templateFiles)
	if err != nil {
		return nil, err
	}
	dummy, err := HashPassword(NewPassword())
	if err != nil {
		return nil, err
	}
	return &app{deps: deps, pages: pages, bundle: bundle, langs: langs, dummyHash: dummy}, nil
}

// loadBundle reads the console's message files (console.<lang>.toml).
func loadBundle(fsys fs.FS) (*i18n.Bundle, []string, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	names, err := fs.Glob(fsys, "locales/console.*.toml")
	if err != nil || len(names) == 0 {
		return nil, nil, fmt.Errorf("no message files (%v)", err)
	}
	langs := []string{"en"}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", name, err)
		}
		if _, err := b.ParseMessageFileBytes(data, name); err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", name, err)
		}
		if lang := strings.Split(name, ".")[1]; !slices.Contains(langs, lang) {
			langs = append(langs, lang)
		}
	}
	return b, langs, nil
}

// parsePages parses every page together with the layout, one template set
// per page, so that each page's "content" stays its own.
func parsePages(fsys fs.FS) (map[string]*template.Template, error) {
	names, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(templateFuncs()).ParseFS(fsys, "templates/layout.html", name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// fileView is what the "file" template shows: a file and the page's view.
type fileView struct {
	View *view
	File *attachmentView
}

func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"fileOf": func(v *view, f any) fileView {
			switch f := f.(type) {
			case attachmentView:
				return fileView{View: v, File: &f}
			case *attachmentView:
				return fileView{View: v, File: f}
			}
			return fileView{View: v}
		},
		"sizeOf": formatSize,
	}
}

// formatSize writes a file size for people.
func formatSize(n int64) string {
	switch {
	case n <= 0:
		return ""
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
	}
}

// flash is the one-line result of the last action, shown once after the
// redirect that follows it.
type flash struct {
	Kind string // "ok" or "error"
	Text string
}

// langOption is one entry of the language select.
type langOption struct {
	Code, Name string
}

// view is what every template gets: the page's own data in Page, and the
// request's language, account and CSRF token for the layout and the forms.
type view struct {
	Lang  string
	Title string
	Staff *migrantbot.Staff
	CSRF  string
	// Here is the current path and query, where the language form returns to.
	Here  string
	Flash *flash
	Langs []langOption
	Page  any
	// Restricted is set while the account must change its one-time
	// password or set up a required authenticator: the menu is hidden.
	Restricted bool

	loc *i18n.Localizer
	tz  *time.Location
}

// T translates a message; args are pairs of names and values for its
// placeholders. A missing message shows its id, which a test prevents.
func (v *view) T(id string, args ...any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok {
			data[k] = args[i+1]
		}
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data}
	if n, ok := data["Count"]; ok {
		cfg.PluralCount = n
	}
	s, err := v.loc.Localize(cfg)
	if err != nil {
		return id
	}
	return s
}

// has reports whether a message exists, so that labels of codes the console
// does not know (a country typed by the person) show the code itself.
func (v *view) has(id string) bool {
	_, err := v.loc.Localize(&i18n.LocalizeConfig{MessageID: id})
	return err == nil
}

func (v *view) label(prefix, code string) string {
	if code == "" {
		return "—"
	}
	if v.has(prefix + code) {
		return v.T(prefix + code)
	}
	return code
}

// StatusName is the localized name of a status.
func (v *view) StatusName(s migrantbot.Status) string { return v.label("status_", string(s)) }

// CategoryName is the localized name of a category.
func (v *view) CategoryName(c string) string { return v.label("cat_", c) }

// CountryName is the localized name of a country code, or the text the
// person typed.
func (v *view) CountryName(c string) string { return v.label("country_", c) }

// PartnerName is the localized name of a partner kind.
func (v *view) PartnerName(p string) string { return v.label("partner_", p) }

// WhenText is the localized period of Appeal.When, or the date the person
// typed.
func (v *view) WhenText(w string) string { return v.label("when_", w) }

// LangName is the name of a language the bot speaks.
func (v *view) LangName(l string) string { return v.label("lang_", l) }

// Time formats a moment in the office's time zone.
func (v *view) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.tz).Format("2006-01-02 15:04")
}

// Date formats a day.
func (v *view) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(v.tz).Format("2006-01-02")
}

// IsAdmin reports whether the logged-in account is an admin.
func (v *view) IsAdmin() bool { return v.Staff != nil && v.Staff.Role == migrantbot.RoleAdmin }

// newView prepares the view of a request: the language is the account's,
// else the ?lang of the login page, else the browser's.
func (a *app) newView(r *http.Request, title string, page any) *view {
	v := &view{Page: page, tz: a.deps.Location, Here: r.URL.RequestURI()}
	prefs := []string{}
	if s := sessionFrom(r.Context()); s != nil {
		staff := s.Staff
		// A session waiting for its code shows no account yet.
		if !s.Pending {
			v.Staff = &staff
			v.Restricted = staff.MustChangePassword || a.needsTOTP(staff)
		}
		v.CSRF = s.CSRF
		prefs = append(prefs, staff.Lang)
	} else if l := r.URL.Query().Get("lang"); l != "" {
		prefs = append(prefs, l)
	}
	prefs = append(prefs, r.Header.Get("Accept-Language"))
	v.loc = i18n.NewLocalizer(a.bundle, prefs...)
	v.Lang = a.pickLang(prefs)
	for _, l := range a.langs {
		v.Langs = append(v.Langs, langOption{Code: l, Name: v.LangName(l)})
	}
	v.Title = v.T(title)
	return v
}

// pickLang returns the console language the preferences lead to.
func (a *app) pickLang(prefs []string) string {
	var tags []language.Tag
	for _, p := range prefs {
		if t, _, err := language.ParseAcceptLanguage(p); err == nil {
			tags = append(tags, t...)
		}
	}
	supported := make([]language.Tag, len(a.langs))
	for i, l := range a.langs {
		supported[i] = language.Make(l)
	}
	_, i, conf := language.NewMatcher(supported).Match(tags...)
	if conf == language.No {
		return "en"
	}
	return a.langs[i]
}

// render writes a page. The page is executed into a buffer first, so that a
// template error becomes a clean 500 rather than half a page.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	if v.Flash == nil {
		v.Flash = a.takeFlash(w, r, v)
	}
	t, ok := a.pages[page]
	if !ok {
		a.serverError(w, r, fmt.Errorf("console: no page %q", page))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		a.serverError(w, r, fmt.Errorf("console: render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// errorPage shows a short localized explanation with a status code.
func (a *app) errorPage(w http.ResponseWriter, r *http.Request, status int, messageID string) {
	v := a.newView(r, "error_title", map[string]any{"Status": status, "Message": messageID})
	v.Flash = &flash{} // the flash waits for a real page
	t := a.pages["error"]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// serverError logs err (which names what failed, never personal data) and
// shows a generic page.
func (a *app) serverError(w http.ResponseWriter, r *http.Request, err error) {
	a.deps.Logger.ErrorContext(r.Context(), "console: request failed", "route", r.Pattern, "err", err)
	a.errorPage(w, r, http.StatusInternalServerError, "error_internal")
}

// storeError answers an error of the store: a missing appeal or account is a
// 404 page; anything else is a 500.
func (a *app) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if migrantbot.ErrorCode(err) == migrantbot.ENOTFOUND {
		a.errorPage(w, r, http.StatusNotFound, "error_not_found")
		return
	}
	a.serverError(w, r, err)
}

const flashCookie = "mb_flash"

var flashPattern = regexp.MustCompile(`^(ok|error)\.([a-z0-9_]+)$`)

// setFlash leaves the id of a message for the next page. Only the id travels
// in the cookie, so nothing a person wrote ever does.
func (a *app) setFlash(w http.ResponseWriter, kind, messageID string) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: kind + "." + messageID, Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: a.deps.Secure, SameSite: http.SameSiteLaxMode,
	})
}

func (a *app) takeFlash(w http.ResponseWriter, r *http.Request, v *view) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: a.deps.Secure, SameSite: http.SameSiteLaxMode})
	m := flashPattern.FindStringSubmatch(c.Value)
	if m == nil || !v.has(m[2]) {
		return nil
	}
	return &flash{Kind: m[1], Text: v.T(m[2])}
}

// redirectBack ends a POST with a redirect to a page, after leaving a flash
// message for it (Post/Redirect/Get).
func (a *app) redirectBack(w http.ResponseWriter, r *http.Request, to, kind, messageID string) {
	if messageID != "" {
		a.setFlash(w, kind, messageID)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// audit appends an audit entry for the logged-in account. A failure is
// logged and otherwise ignored for reads, where refusing the page would not
// undo the view.
func (a *app) audit(ctx context.Context, r *http.Request, action, target, detail string) error {
	actor := "system"
	if s := sessionFrom(ctx); s != nil {
		actor = s.Staff.Email
	}
	err := a.deps.Store.Audit(ctx, migrantbot.AuditEntry{
		At: a.deps.Now(), Actor: actor, Action: action, Target: target, Detail: detail, IP: clientIP(r),
	})
	if err != nil {
		return fmt.Errorf("console: audit %s: %w", action, err)
	}
	return nil
}

// logAuditError is for audit entries of reads.
func (a *app) logAuditError(r *http.Request, err error) {
	if err != nil {
		a.deps.Logger.ErrorContext(r.Context(), "console: audit failed", "route", r.Pattern, "err", err)
	}
}
