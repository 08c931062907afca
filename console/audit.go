package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"migrantbot"
)

// auditPageSize is how many entries one page of the audit log shows.
const auditPageSize = 100

type auditPage struct {
	Actor, Action, Target string
	From, To              string // days, 2006-01-02, in the office's time zone
	Entries               []migrantbot.AuditEntry
	Limit                 int
	// Older is the address of the next page, of older entries; "" on the
	// last. Newest is the first page of the same filter, "" on it.
	Older, Newest string
	Error         string // message id
}

// handleAudit shows the audit log, newest first, filtered by actor, action,
// target and a range of days, a page at a time.
func (a *app) handleAudit(st AuditLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p := &auditPage{
			Actor:  strings.TrimSpace(q.Get("actor")),
			Action: strings.TrimSpace(q.Get("action")),
			Target: strings.TrimSpace(q.Get("target")),
			From:   strings.TrimSpace(q.Get("from")),
			To:     strings.TrimSpace(q.Get("to")),
			Limit:  auditPageSize,
		}
		f := migrantbot.AuditFilter{Actor: p.Actor, Action: p.Action, Target: p.Target, Limit: auditPageSize + 1}
		status := http.StatusOK
		var err error
		if f.From, err = a.parseDay(p.From); err != nil {
			p.Error, p.From, status = "audit_bad_date", "", http.StatusBadRequest
		}
		if f.To, err = a.parseDay(p.To); err != nil {
			p.Error, p.To, status = "audit_bad_date", "", http.StatusBadRequest
		} else if !f.To.IsZero() {
			f.To = f.To.AddDate(0, 0, 1) // the "to" day is included
		}
		if b := q.Get("before"); b != "" {
			if f.Before, err = strconv.ParseInt(b, 10, 64); err != nil || f.Before <= 0 {
				a.errorPage(w, r, http.StatusBadRequest, "error_bad_request")
				return
			}
		}
		entries, err := st.FindAudit(r.Context(), f)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: audit: %w", err))
			return
		}
		// One entry more than a page tells whether an older page exists.
		link := url.Values{}
		for k, v := range map[string]string{"actor": p.Actor, "action": p.Action, "target": p.Target, "from": p.From, "to": p.To} {
			if v != "" {
				link.Set(k, v)
			}
		}
		if f.Before > 0 {
			p.Newest = "/audit?" + link.Encode()
		}
		if len(entries) > auditPageSize {
			entries = entries[:auditPageSize]
			link.Set("before", strconv.FormatInt(entries[len(entries)-1].ID, 10))
			p.Older = "/audit?" + link.Encode()
		}
		p.Entries = entries
		a.render(w, r, status, "audit", a.newView(r, "audit_title", p))
	})
}

// parseDay reads a day of a date field as its midnight in the office's time
// zone; "" is the zero time.
func (a *app) parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.ParseInLocation(time.DateOnly, s, a.deps.Location)
}
