package console

import (
	"context"
	"fmt"
	"net/http"

	"migrantbot"
)

// appealLister reads the list.
type appealLister interface {
	ListAppeals(ctx context.Context, f migrantbot.AppealFilter) (migrantbot.AppealPage, error)
}

// staffLister lists the accounts, for the assignee selects.
type staffLister interface {
	ListStaff(ctx context.Context) ([]migrantbot.Staff, error)
}

// statusTab is one tab above the list: a status and its count.
type statusTab struct {
	Status migrantbot.Status // "" for all
	N      int
	URL    string
	Active bool
}

type appealListPage struct {
	Form       filterForm
	Rows       []migrantbot.AppealRow
	Tabs       []statusTab
	NextURL    string
	ExportURL  string
	Staff      []migrantbot.Staff
	Statuses   []migrantbot.Status
	Categories []string
	Languages  []string
	Countries  []string
}

// pageSize is the number of appeals per page of the list.
const pageSize = 50

func (a *app) handleAppealList(appeals appealLister, accounts staffLister) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		f, form := a.filterFromRequest(r)
		f.Limit = pageSize
		page, err := appeals.ListAppeals(ctx, f)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: list appeals: %w", err))
			return
		}
		// A search looks for a person: who searched for what is recorded,
		// and nothing is shown that could not be.
		if form.Q != "" {
			if err := a.audit(ctx, r, "appeals.search", "appeals", form.describe()); err != nil {
				a.serverError(w, r, fmt.Errorf("console: audit search: %w", err))
				return
			}
		}
		staff, err := accounts.ListStaff(ctx)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: list appeals: %w", err))
			return
		}
		p := &appealListPage{
			Form: form, Rows: page.Rows, Staff: activeStaff(staff),
			Statuses: statuses(), Categories: migrantbot.Categories,
			Languages: migrantbot.Languages, Countries: knownCountries(),
		}
		total := 0
		for _, s := range statuses() {
			total += page.Counts[s]
		}
		p.Tabs = append(p.Tabs, statusTab{N: total, URL: "/appeals" + form.queryOf("status", ""), Active: form.Status == ""})
		for _, s := range statuses() {
			p.Tabs = append(p.Tabs, statusTab{
				Status: s, N: page.Counts[s], URL: "/appeals" + form.queryOf("status", string(s)),
				Active: form.Status == string(s),
			})
		}
		if page.Next != "" {
			p.NextURL = "/appeals" + form.queryOf("after", page.Next)
		}
		p.ExportURL = "/export.csv" + form.queryOf("", "")
		a.render(w, r, http.StatusOK, "appeals", a.newView(r, "appeals_title", p))
	})
}

// activeStaff leaves out disabled accounts, which can be given no work.
func activeStaff(all []migrantbot.Staff) []migrantbot.Staff {
	var out []migrantbot.Staff
	for _, s := range all {
		if !s.Disabled {
			out = append(out, s)
		}
	}
	return out
}
