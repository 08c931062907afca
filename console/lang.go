package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
)

// langStore is what choosing the console language needs.
type langStore interface {
	SetStaffLang(ctx context.Context, id int64, lang string) error
}

// handleLang saves the language chosen in the header's select and goes back
// to the page it was chosen on.
func (a *app) handleLang(st langStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := r.PostFormValue("lang")
		if !slices.Contains(a.langs, lang) {
			a.errorPage(w, r, http.StatusBadRequest, "error_bad_request")
			return
		}
		s := sessionFrom(r.Context())
		if err := st.SetStaffLang(r.Context(), s.Staff.ID, lang); err != nil {
			a.serverError(w, r, fmt.Errorf("console: set language: %w", err))
			return
		}
		http.Redirect(w, r, localPath(r.PostFormValue("back")), http.StatusSeeOther)
	})
}
