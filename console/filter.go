package console

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"migrantbot"
)

// knownCountries are the countries the bot offers as buttons; a person may
// also have typed another name, which the filters take as it is.
func knownCountries() []string {
	return []string{"AZ", "RU", "UZ", "KG", "TJ", "TR", "GE", "IR", "UA", "KZ", "IN", "PK", "DE", "AE", "GB"}
}

func statuses() []migrantbot.Status {
	return []migrantbot.Status{
		migrantbot.StatusNew, migrantbot.StatusInReview, migrantbot.StatusReferred,
		migrantbot.StatusAnswered, migrantbot.StatusClosed, migrantbot.StatusRejected,
	}
}

// filterForm is the list's filter as the form holds it: the values of the
// query string, so that a URL of the list can be shared.
type filterForm struct {
	Status      string
	Category    string
	Citizenship string
	Country     string
	Language    string
	Assignee    string // "", "me", "none" or an account id
	From, To    string // 2006-01-02
	Q           string
}

// maxFilterText bounds free-text filter values.
const maxFilterText = 200

// parseFilter reads the list's filter from a query. Values that make no
// sense (an unknown status, a malformed date) are dropped rather than
// refused: the list then shows more, never an error page.
func parseFilter(q url.Values, me int64, tz *time.Location) (migrantbot.AppealFilter, filterForm) {
	text := func(name string) string {
		s := strings.TrimSpace(q.Get(name))
		if r := []rune(s); len(r) > maxFilterText {
			s = string(r[:maxFilterText])
		}
		return s
	}
	var f migrantbot.AppealFilter
	var form filterForm
	if s := migrantbot.Status(q.Get("status")); slices.Contains(statuses(), s) {
		f.Status, form.Status = s, string(s)
	}
	if c := q.Get("category"); slices.Contains(migrantbot.Categories, c) {
		f.Category, form.Category = c, c
	}
	if l := q.Get("language"); slices.Contains(migrantbot.Languages, l) {
		f.Language, form.Language = l, l
	}
	f.Citizenship, form.Citizenship = text("citizenship"), text("citizenship")
	f.Country, form.Country = text("country"), text("country")
	f.Query, form.Q = text("q"), text("q")
	switch a := q.Get("assignee"); a {
	case "me":
		f.Assignee, form.Assignee = me, a
	case "none":
		f.Assignee, form.Assignee = -1, a
	default:
		if id, err := strconv.ParseInt(a, 10, 64); err == nil && id > 0 {
			f.Assignee, form.Assignee = id, a
		}
	}
	if d, err := time.ParseInLocation(time.DateOnly, q.Get("from"), tz); err == nil {
		f.From, form.From = d, q.Get("from")
	}
	if d, err := time.ParseInLocation(time.DateOnly, q.Get("to"), tz); err == nil {
		// The whole last day, whether the store compares with < or <=.
		f.To, form.To = d.AddDate(0, 0, 1).Add(-time.Microsecond), q.Get("to")
	}
	f.After = q.Get("after")
	return f, form
}

// auditableQuery is a search for the start of a reference.
var auditableQuery = regexp.MustCompile(`^AP-[0-9][0-9-]*$`)

// values returns the form as a query, without empty values.
func (f filterForm) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("status", f.Status)
	set("category", f.Category)
	set("citizenship", f.Citizenship)
	set("country", f.Country)
	set("language", f.Language)
	set("assignee", f.Assignee)
	set("from", f.From)
	set("to", f.To)
	set("q", f.Q)
	return v
}

// describe is the filter as one line for the audit log. The words of a
// search are names and facts of people: the audit log is plain and
// append-only, so it records how many words were searched for, not which;
// the start of a reference, which names nobody, is kept.
func (f filterForm) describe() string {
	v := f.values()
	if q := strings.TrimSpace(f.Q); q != "" && !auditableQuery.MatchString(strings.ToUpper(q)) {
		v.Set("q", fmt.Sprintf("(%d words)", len(strings.Fields(q))))
	}
	s := v.Encode()
	if s == "" {
		return "all"
	}
	return s
}

// queryOf returns the query of the form with one value replaced ("" drops
// it), for the status tabs and the next-page link.
func (f filterForm) queryOf(key, value string) string {
	v := f.values()
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// filterFromRequest parses the filter of a list or export request.
func (a *app) filterFromRequest(r *http.Request) (migrantbot.AppealFilter, filterForm) {
	var me int64
	if s := sessionFrom(r.Context()); s != nil {
		me = s.Staff.ID
	}
	return parseFilter(r.URL.Query(), me, a.deps.Location)
}
