package console

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"migrantbot"
)

// MaxTextLength is the longest reply or note staff may write, in
// characters; a reply must fit one Telegram message with its heading.
const MaxTextLength = 4000

// actionResult turns the outcome of an action into the redirect back to the
// appeal with its flash message: EINVALID is the office's mistake and is
// said on the page; a missing appeal is a 404; anything else is a 500.
func (a *app) actionResult(w http.ResponseWriter, r *http.Request, ref, doing, okID string, err error) {
	switch migrantbot.ErrorCode(err) {
	case "":
		a.redirectBack(w, r, appealURL(ref), "ok", okID)
	case migrantbot.EINVALID, migrantbot.ECONFLICT:
		a.deps.Logger.InfoContext(r.Context(), "console: action refused", "route", r.Pattern, "err", err)
		a.redirectBack(w, r, appealURL(ref), "error", "flash_refused")
	default:
		a.storeError(w, r, fmt.Errorf("console: %s: %w", doing, err))
	}
}

// formText reads a text field, trimmed of surrounding space.
func formText(r *http.Request, name string) string {
	return strings.TrimSpace(r.PostFormValue(name))
}

// checkText returns the id of the flash message that refuses a text, or "".
func checkText(text, empty, long string) string {
	switch {
	case text == "":
		return empty
	case utf8.RuneCountInString(text) > MaxTextLength:
		return long
	}
	return ""
}

type assigner interface {
	Assign(ctx context.Context, actor migrantbot.Staff, ref string, staffID int64) error
}

// handleAssign gives the appeal to the current account ("me"), to another
// (an id), or to nobody ("none").
func (a *app) handleAssign(st assigner) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		me := sessionFrom(r.Context()).Staff
		var to int64
		switch v := r.PostFormValue("to"); v {
		case "me":
			to = me.ID
		case "none":
			to = 0
		default:
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				a.redirectBack(w, r, appealURL(ref), "error", "flash_refused")
				return
			}
			to = id
		}
		okID := "flash_assigned"
		if to == 0 {
			okID = "flash_unassigned"
		}
		a.actionResult(w, r, ref, "assign", okID, st.Assign(r.Context(), me, ref, to))
	})
}

type statusChanger interface {
	ChangeStatus(ctx context.Context, actor migrantbot.Staff, ref string, to migrantbot.Status, reason string, msg *migrantbot.Message) error
}

// handleStatus changes the status and queues the message that tells the
// person, in the appeal's language. A rejection needs a reason, which the
// person reads.
func (a *app) handleStatus(appeals appealReader, st statusChanger, notifier migrantbot.Notifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ref := r.PathValue("ref")
		to := migrantbot.Status(r.PostFormValue("status"))
		reason := formText(r, "reason")
		if !slices.Contains(statuses(), to) {
			a.redirectBack(w, r, appealURL(ref), "error", "flash_refused")
			return
		}
		if to == migrantbot.StatusRejected && reason == "" {
			a.redirectBack(w, r, appealURL(ref), "error", "flash_reason_needed")
			return
		}
		if utf8.RuneCountInString(reason) > MaxTextLength {
			a.redirectBack(w, r, appealURL(ref), "error", "flash_text_long")
			return
		}
		d, err := appeals.AppealDetail(ctx, ref)
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: change status: %w", err))
			return
		}
		msg := notifier.StatusChanged(d.Appeal.Language, d.Appeal.Reference, to, reason)
		err = st.ChangeStatus(ctx, sessionFrom(ctx).Staff, d.Appeal.Reference, to, reason, &msg)
		a.actionResult(w, r, d.Appeal.Reference, "change status", "flash_status_changed", err)
	})
}

type referrer interface {
	Refer(ctx context.Context, actor migrantbot.Staff, ref string, rf migrantbot.Referral) error
}

// handleRefer records a referral to a partner body.
func (a *app) handleRefer(st referrer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ref := r.PathValue("ref")
		partner := r.PostFormValue("partner")
		if !slices.Contains(migrantbot.Partners, partner) {
			a.redirectBack(w, r, appealURL(ref), "error", "flash_refused")
			return
		}
		date, err := time.ParseInLocation(time.DateOnly, r.PostFormValue("date"), a.deps.Location)
		if err != nil {
			a.redirectBack(w, r, appealURL(ref), "error", "flash_date_needed")
			return
		}
		name, note := formText(r, "name"), formText(r, "note")
		if utf8.RuneCountInString(name) > maxFilterText || utf8.RuneCountInString(note) > MaxTextLength {
			a.redirectBack(w, r, appealURL(ref), "error", "flash_text_long")
			return
		}
		me := sessionFrom(ctx).Staff
		err = st.Refer(ctx, me, ref, migrantbot.Referral{
			Partner: partner, Name: name, Date: date, Note: note, By: me.Email, At: a.deps.Now(),
		})
		a.actionResult(w, r, ref, "refer", "flash_referred", err)
	})
}

type noter interface {
	AddNote(ctx context.Context, actor migrantbot.Staff, ref, text string) error
}

// handleNote adds an internal note.
func (a *app) handleNote(st noter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ref := r.PathValue("ref")
		text := formText(r, "text")
		if id := checkText(text, "flash_text_empty", "flash_text_long"); id != "" {
			a.redirectBack(w, r, appealURL(ref), "error", id)
			return
		}
		a.actionResult(w, r, ref, "add note", "flash_noted", st.AddNote(r.Context(), sessionFrom(r.Context()).Staff, ref, text))
	})
}

type replier interface {
	Reply(ctx context.Context, actor migrantbot.Staff, ref, text string, msg migrantbot.Message) error
}

// handleReply sends the person a reply written by staff: the thread keeps
// the text, the outbox the message the Notifier makes of it.
func (a *app) handleReply(appeals appealReader, st replier, notifier migrantbot.Notifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ref := r.PathValue("ref")
		text := formText(r, "text")
		if id := checkText(text, "flash_text_empty", "flash_text_long"); id != "" {
			a.redirectBack(w, r, appealURL(ref), "error", id)
			return
		}
		d, err := appeals.AppealDetail(ctx, ref)
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: reply: %w", err))
			return
		}
		msg := notifier.Reply(d.Appeal.Language, d.Appeal.Reference, text)
		err = st.Reply(ctx, sessionFrom(ctx).Staff, d.Appeal.Reference, text, msg)
		a.actionResult(w, r, d.Appeal.Reference, "reply", "flash_replied", err)
	})
}
