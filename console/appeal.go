package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"migrantbot"
)

// appealReader reads one appeal.
type appealReader interface {
	AppealDetail(ctx context.Context, ref string) (migrantbot.AppealDetail, error)
}

// attachmentView is one file of the appeal as the page shows it.
type attachmentView struct {
	migrantbot.Attachment
	URL     string
	IsPhoto bool
}

// entryView is one thread entry as the page shows it.
type entryView struct {
	migrantbot.ThreadEntry
	File *attachmentView
}

// statusStep is one line of the status history.
type statusStep struct {
	Status migrantbot.Status
	At     string
	By     string
	Reason string
}

type appealPage struct {
	D            migrantbot.AppealDetail
	Files        []attachmentView
	FilesOff     bool // no FileSource: files cannot be shown
	Thread       []entryView
	History      []statusStep
	Staff        []migrantbot.Staff
	NextStatuses []migrantbot.Status
	Partners     []string
	Today        string
	Action       string // "/appeals/{ref}", the base of the forms
	MeID         int64
}

// nextStatuses are the moves the office may make from a status: forward
// along new → in review → referred → answered → closed, skipping steps if
// needed, and rejection from any status that is not final. The store holds
// the same rule; the page offers only what it would accept.
func nextStatuses(from migrantbot.Status) []migrantbot.Status {
	order := []migrantbot.Status{
		migrantbot.StatusNew, migrantbot.StatusInReview, migrantbot.StatusReferred,
		migrantbot.StatusAnswered, migrantbot.StatusClosed,
	}
	i := slices.Index(order, from)
	if i < 0 {
		return nil // rejected, or unknown
	}
	out := slices.Clone(order[i+1:])
	if from != migrantbot.StatusClosed {
		out = append(out, migrantbot.StatusRejected)
	}
	return out
}

func appealURL(ref string) string { return "/appeals/" + url.PathEscape(ref) }

// isPhoto reports whether an attachment may be shown inline.
func isPhoto(att migrantbot.Attachment) bool {
	return att.Kind == "photo" || inlineImageType(att.MimeType)
}

// seenMarker clears the news marker of an appeal.
type seenMarker interface {
	MarkSeen(ctx context.Context, ref string) error
}

// handleAppealShow shows an appeal. The view is audited before anything is
// shown: a view that cannot be recorded is not served.
func (a *app) handleAppealShow(appeals appealReader, accounts staffLister, seen seenMarker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ref := r.PathValue("ref")
		d, err := appeals.AppealDetail(ctx, ref)
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: show appeal: %w", err))
			return
		}
		if err := a.audit(ctx, r, "appeal.view", d.Appeal.Reference, ""); err != nil {
			a.serverError(w, r, err)
			return
		}
		if d.HasNews {
			if err := seen.MarkSeen(ctx, d.Appeal.Reference); err != nil {
				a.serverError(w, r, fmt.Errorf("console: show appeal: %w", err))
				return
			}
		}
		staff, err := accounts.ListStaff(ctx)
		if err != nil {
			a.serverError(w, r, fmt.Errorf("console: show appeal: %w", err))
			return
		}
		base := appealURL(d.Appeal.Reference)
		p := &appealPage{
			D: d, FilesOff: a.deps.Files == nil, Staff: activeStaff(staff),
			NextStatuses: nextStatuses(d.Appeal.Status), Partners: migrantbot.Partners,
			Today: a.deps.Now().In(a.deps.Location).Format("2006-01-02"), Action: base,
			MeID: sessionFrom(ctx).Staff.ID,
		}
		for i, att := range d.Appeal.Attachments {
			p.Files = append(p.Files, attachmentView{
				Attachment: att, URL: fmt.Sprintf("%s/files/%d", base, i), IsPhoto: isPhoto(att),
			})
		}
		v := a.newView(r, "appeal_title", p)
		p.History = append(p.History, statusStep{Status: migrantbot.StatusNew, At: v.Time(d.Appeal.SubmittedAt)})
		for _, e := range d.Thread {
			ev := entryView{ThreadEntry: e}
			if e.Attachment != nil {
				ev.File = &attachmentView{
					Attachment: *e.Attachment, URL: fmt.Sprintf("%s/entries/%d/file", base, e.ID),
					IsPhoto: isPhoto(*e.Attachment),
				}
			}
			p.Thread = append(p.Thread, ev)
			if e.Kind == migrantbot.EntryStatus {
				p.History = append(p.History, statusStep{Status: e.Status, At: v.Time(e.At), By: e.Author, Reason: e.Text})
			}
		}
		v.Title = v.T("appeal_title", "Ref", d.Appeal.Reference)
		a.render(w, r, http.StatusOK, "appeal", v)
	})
}
