package console

import (
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"migrantbot"
)

// inlineImageType reports whether a MIME type is a raster image a browser
// may show inline. SVG is not one: it can carry script.
func inlineImageType(t string) bool {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return true
	}
	return false
}

// handleAppealFile streams the n-th attachment of an appeal's submission.
// The browser names only the appeal and the position; the Telegram file id
// and the bot token stay on the server.
func (a *app) handleAppealFile(appeals appealReader, files migrantbot.FileSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := appeals.AppealDetail(r.Context(), r.PathValue("ref"))
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: appeal file: %w", err))
			return
		}
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 || n >= len(d.Appeal.Attachments) {
			a.errorPage(w, r, http.StatusNotFound, "error_not_found")
			return
		}
		a.streamFile(w, r, files, d.Appeal.Reference, d.Appeal.Attachments[n])
	})
}

// handleEntryFile streams the file of a thread entry: one the person added
// after submitting.
func (a *app) handleEntryFile(appeals appealReader, files migrantbot.FileSource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := appeals.AppealDetail(r.Context(), r.PathValue("ref"))
		if err != nil {
			a.storeError(w, r, fmt.Errorf("console: entry file: %w", err))
			return
		}
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			a.errorPage(w, r, http.StatusNotFound, "error_not_found")
			return
		}
		for _, e := range d.Thread {
			if e.ID == id && e.Attachment != nil {
				a.streamFile(w, r, files, d.Appeal.Reference, *e.Attachment)
				return
			}
		}
		a.errorPage(w, r, http.StatusNotFound, "error_not_found")
	})
}

// streamFile copies a file from the FileSource to the browser. Photos of a
// known raster type are shown inline; anything else is a download, and every
// file is sandboxed so that nothing in it runs in the console's origin.
// Downloads are audited; inline photos are part of the audited page view.
func (a *app) streamFile(w http.ResponseWriter, r *http.Request, files migrantbot.FileSource, ref string, att migrantbot.Attachment) {
	if files == nil {
		a.errorPage(w, r, http.StatusServiceUnavailable, "error_files_off")
		return
	}
	body, typ, size, err := files.OpenFile(r.Context(), att.FileID)
	if err != nil {
		a.deps.Logger.ErrorContext(r.Context(), "console: open file", "route", r.Pattern, "err", err)
		a.errorPage(w, r, http.StatusBadGateway, "error_files_failed")
		return
	}
	defer body.Close()
	if typ == "" || typ == "application/octet-stream" {
		typ = att.MimeType
	}
	if typ == "" && att.Kind == "photo" {
		typ = "image/jpeg" // Telegram re-encodes every photo as JPEG
	}
	inline := isPhoto(att) && inlineImageType(typ)
	if !strings.Contains(typ, "/") {
		typ = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", typ)
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox; frame-ancestors 'none'")
	h.Set("Cache-Control", "private, no-store")
	if size > 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
	// Every file shown is audited, inline photos too (they can be fetched
	// alone), and nothing is shown that could not be recorded.
	if err := a.audit(r.Context(), r, "appeal.file", ref, att.Kind+" "+att.FileUniqueID); err != nil {
		a.serverError(w, r, fmt.Errorf("console: audit file of %s: %w", ref, err))
		return
	}
	if inline {
		h.Set("Content-Disposition", "inline")
	} else {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": downloadName(att)}))
	}
	if _, err := io.Copy(w, body); err != nil {
		// The status is sent; all that is left is to say why the body broke.
		a.deps.Logger.WarnContext(r.Context(), "console: stream file", "route", r.Pattern, "err", err)
	}
}

// downloadName is the file's own name without any directory, or a neutral
// one.
func downloadName(att migrantbot.Attachment) string {
	name := path.Base(strings.ReplaceAll(att.FileName, "\\", "/"))
	if name == "" || name == "." || name == "/" {
		ext := ".bin"
		if att.Kind == "photo" {
			ext = ".jpg"
		}
		return "file" + ext
	}
	return name
}
