package console

import (
	"fmt"
	"net/http"
	"strings"

	"migrantbot"
)

// auditPageSize is how many entries the audit page shows.
const auditPageSize = 200

type auditPage struct {
	Actor, Action, Target string
	Entries               []migrantbot.AuditEntry
	Limit                 int
}

// handleAudit shows the newest audit entries, filtered by actor, action and
// target.
func (a *app) handleAudit(st AuditLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p := &auditPage{
			Actor:  strings.TrimSpace(q.Get("actor")),
			Action: strings.TrimSpace(q.Get("action")),
			Target: strings.TrimSpace(q.Get("target")),
			Limit:  auditPageSize,
		}
		entries, err := st.ListAudit(r.Context(), p.Actor, p.Action, p.Target, auditPageSize)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: audit: %w", err))
			return
		}
		p.Entries = entries
		a.render(w, r, http.StatusOK, "audit", a.newView(r, "audit_title", p))
	})
}
