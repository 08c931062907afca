package console

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"time"
)

// route is one entry of the console's URL surface.
type route struct {
	pattern string // a Go 1.22 ServeMux pattern, method first
	access  access
	handler http.Handler
}

// routes lists the whole URL surface of the console. A test walks this
// table to check that every route but the public ones needs a session, and
// that the admin ones need an admin.
func (a *app) routes() []route {
	st := a.deps.Store
	static, _ := fs.Sub(staticFiles, "static")
	return []route{
		{"GET /healthz", public, handleHealthz()},
		{"GET /readyz", public, a.handleReadyz()},
		{"GET /static/", public, handleStatic(static)},

		{"GET /login", public, a.handleLoginPage()},
		{"POST /login", public, a.handleLogin(st)},
		{"GET /login/code", secondFactor, a.handleCodePage()},
		{"POST /login/code", secondFactor, a.handleCode(st)},
		{"POST /logout", leaving, a.handleLogout(st)},
		{"GET /password", anySession, a.handlePasswordPage()},
		{"POST /password", anySession, a.handlePasswordChange(st)},
		{"POST /lang", anySession, a.handleLang(st)},

		{"GET /account", staffOnly, a.handleAccount(st)},
		{"POST /account/sessions/{id}/end", staffOnly, a.handleSessionEnd(st)},
		{"POST /account/sessions/end-others", staffOnly, a.handleSessionEndOthers(st)},
		{"GET /account/totp", enrolling, a.handleTOTPPage(st)},
		{"POST /account/totp/start", enrolling, a.handleTOTPStart(st)},
		{"GET /account/totp/qr.png", enrolling, a.handleTOTPQR(st)},
		{"POST /account/totp", enrolling, a.handleTOTPConfirm(st)},
		{"POST /account/totp/disable", enrolling, a.handleTOTPDisable(st)},

		{"GET /{$}", staffOnly, http.RedirectHandler("/appeals", http.StatusSeeOther)},
		{"GET /appeals", staffOnly, a.handleAppealList(st, st)},
		{"GET /appeals/{ref}", staffOnly, a.handleAppealShow(st, st, st)},
		{"GET /appeals/{ref}/files/{n}", staffOnly, a.handleAppealFile(st, a.deps.Files)},
		{"GET /appeals/{ref}/entries/{id}/file", staffOnly, a.handleEntryFile(st, a.deps.Files)},
		{"POST /appeals/{ref}/assign", staffOnly, a.handleAssign(st)},
		{"POST /appeals/{ref}/status", staffOnly, a.handleStatus(st, st, a.deps.Notifier)},
		{"POST /appeals/{ref}/referrals", staffOnly, a.handleRefer(st)},
		{"POST /appeals/{ref}/notes", staffOnly, a.handleNote(st)},
		{"POST /appeals/{ref}/replies", staffOnly, a.handleReply(st, st, a.deps.Notifier)},
		{"GET /stats", staffOnly, a.handleStats(st)},
		{"GET /content", staffOnly, a.handleContent()},

		{"GET /export.csv", adminOnly, a.handleExport(st)},
		{"GET /audit", adminOnly, a.handleAudit(st)},
		{"GET /staff", adminOnly, a.handleStaffList(st)},
		{"POST /staff", adminOnly, a.handleStaffAdd(st, st)},
		{"POST /staff/{id}/disable", adminOnly, a.handleStaffDisabled(st, st, true)},
		{"POST /staff/{id}/enable", adminOnly, a.handleStaffDisabled(st, st, false)},
		{"POST /staff/{id}/totp/reset", adminOnly, a.handleStaffTOTPReset(st, st)},
		{"POST /staff/{id}/sessions/end", adminOnly, a.handleStaffSessionsEnd(st, st)},
	}
}

// handler builds the mux from the route table, inside the middleware every
// response goes through.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routes() {
		mux.Handle(rt.pattern, a.guard(rt.access, rt.handler))
	}
	return a.logRequests(securityHeaders(limitBodies(mux)))
}

// maxBodyBytes bounds a request body: the largest form, a reply of 4000
// characters, is far below it.
const maxBodyBytes = 1 << 20

// limitBodies refuses bodies larger than any form of the console.
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	})
}

func handleStatic(fsys fs.FS) http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(fsys))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every answer carries. Pages hold personal
// data, so nothing but the static files may be cached.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// requestInfo is filled in while a request is served, for its log line.
type requestInfo struct {
	staffID int64
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

// statusRecorder remembers the status code written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request: the route pattern (never the
// query, which may hold a searched name), the account, the status and the
// time taken. A panic is logged and answered with 500.
func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				// The panic's value may quote what it was working on: only its type is logged.
				a.deps.Logger.ErrorContext(r.Context(), "console: panic", "route", r.Pattern, "panic", fmt.Sprintf("%T", p))
				if rec.status == 0 {
					http.Error(rec, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				}
			}
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			a.deps.Logger.InfoContext(r.Context(), "http", "method", r.Method, "route", route,
				"status", rec.status, "staff", info.staffID, "duration", time.Since(start).Round(time.Microsecond))
		}()
		next.ServeHTTP(rec, r)
	})
}

// handleReadyz answers 200 when the service can work and 503 when not, for
// load balancers and orchestrators; the reason goes to the log only.
func (a *app) handleReadyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if a.deps.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			if err := a.deps.Ready(ctx); err != nil {
				a.deps.Logger.WarnContext(r.Context(), "console: not ready", "err", err)
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("not ready"))
				return
			}
		}
		_, _ = w.Write([]byte("ready"))
	})
}
