package console

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"migrantbot"
)

// TestActions runs every action of the appeal page through its handler and
// checks the store: the thread entry, the audit entry by the acting
// account, and the message queued for the person with the Notifier's text.
func TestActions(t *testing.T) {
	e := newEnv(t)
	b, me := e.loggedIn(t, "worker@example.org", migrantbot.RoleReviewer)
	colleague := e.addStaff(t, "colleague@example.org", migrantbot.RoleReviewer, "a long enough password", false)
	ref := e.submit(t, migrantbot.Appeal{Surname: "Məmmədov", FirstName: "Əli", Language: "az"})
	chat := e.detail(t, ref).Appeal.ChatID
	page := "/appeals/" + ref

	tests := []struct {
		name      string
		path      string
		form      url.Values
		wantFlash string
		wantKind  string // the new thread entry's kind; "" when none
		wantText  string // in the new entry's text
		wantOut   string // the text queued for the person; "" when none
		check     func(t *testing.T, d migrantbot.AppealDetail)
	}{
		{
			name: "assign to me", path: "/assign", form: url.Values{"to": {"me"}},
			wantFlash: "The appeal is assigned.", wantKind: migrantbot.EntryAssign,
			check: func(t *testing.T, d migrantbot.AppealDetail) {
				if d.AssigneeID != me.ID {
					t.Errorf("assignee: got %d, want %d", d.AssigneeID, me.ID)
				}
			},
		},
		{
			name: "assign to a colleague", path: "/assign", form: url.Values{"to": {itoa(colleague.ID)}},
			wantFlash: "The appeal is assigned.", wantKind: migrantbot.EntryAssign,
			check: func(t *testing.T, d migrantbot.AppealDetail) {
				if d.AssigneeEmail != "colleague@example.org" {
					t.Errorf("assignee: got %q", d.AssigneeEmail)
				}
			},
		},
		{
			name: "unassign", path: "/assign", form: url.Values{"to": {"none"}},
			wantFlash: "The appeal is unassigned.", wantKind: migrantbot.EntryAssign,
			check: func(t *testing.T, d migrantbot.AppealDetail) {
				if d.AssigneeID != 0 {
					t.Errorf("assignee after unassign: got %d", d.AssigneeID)
				}
			},
		},
		{
			name: "status to in review", path: "/status", form: url.Values{"status": {"in_review"}},
			wantFlash: "The status is changed", wantKind: migrantbot.EntryStatus,
			wantOut: "[az] " + ref + " is now in_review: ",
			check: func(t *testing.T, d migrantbot.AppealDetail) {
				if d.Appeal.Status != migrantbot.StatusInReview {
					t.Errorf("status: got %q", d.Appeal.Status)
				}
			},
		},
		{
			name: "rejection without a reason is refused", path: "/status", form: url.Values{"status": {"rejected"}},
			wantFlash: "A rejection needs a reason",
		},
		{
			name: "backward move is refused by the store", path: "/status", form: url.Values{"status": {"new"}},
			wantFlash: "The change was not accepted.",
		},
		{
			name: "referral", path: "/referrals",
			form:      url.Values{"partner": {"embassy"}, "name": {"Embassy of Uzbekistan in Baku"}, "date": {"2026-03-02"}, "note": {"sent by post"}},
			wantFlash: "The referral is saved.", wantKind: migrantbot.EntryReferral,
			check: func(t *testing.T, d migrantbot.AppealDetail) {
				if len(d.Referrals) != 1 {
					t.Fatalf("referrals: got %d, want 1", len(d.Referrals))
				}
				r := d.Referrals[0]
				if r.Partner != "embassy" || r.Name != "Embassy of Uzbekistan in Baku" || r.Note != "sent by post" ||
					r.Date.Format(time.DateOnly) != "2026-03-02" || r.By != "worker@example.org" {
					t.Errorf("referral: got %+v", r)
				}
			},
		},
		{
			name: "referral to an unknown partner is refused", path: "/referrals",
			form: url.Values{"partner": {"mafia"}, "date": {"2026-03-02"}}, wantFlash: "The change was not accepted.",
		},
		{
			name: "referral without a date is refused", path: "/referrals",
			form: url.Values{"partner": {"ngo"}}, wantFlash: "Please give the date",
		},
		{
			name: "internal note", path: "/notes", form: url.Values{"text": {"Call the embassy on Monday."}},
			wantFlash: "The note is added.", wantKind: migrantbot.EntryNote, wantText: "Call the embassy on Monday.",
		},
		{
			name: "empty note is refused", path: "/notes", form: url.Values{"text": {"   "}},
			wantFlash: "Please write some text first.",
		},
		{
			name: "reply", path: "/replies", form: url.Values{"text": {"Salam! We have asked the embassy."}},
			wantFlash: "The reply is queued", wantKind: migrantbot.EntryReply, wantText: "Salam! We have asked the embassy.",
			wantOut: "[az] reply on " + ref + ": Salam! We have asked the embassy.",
		},
		{
			name: "too long reply is refused", path: "/replies", form: url.Values{"text": {strings.Repeat("ə", MaxTextLength+1)}},
			wantFlash: "The text is too long",
		},
		{
			name: "rejection with a reason", path: "/status", form: url.Values{"status": {"rejected"}, "reason": {"Outside our mandate."}},
			wantFlash: "The status is changed", wantKind: migrantbot.EntryStatus,
			wantOut: "[az] " + ref + " is now rejected: Outside our mandate.",
			check: func(t *testing.T, d migrantbot.AppealDetail) {
				if d.Appeal.Status != migrantbot.StatusRejected {
					t.Errorf("status: got %q", d.Appeal.Status)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.detail(t, ref)
			outBefore := e.outboxTexts(t, chat)
			auditBefore := e.auditCount(t, me.Email, "", ref)

			b.get(page)
			r := b.post(page+tc.path, tc.form)
			wantRedirect(t, "POST "+tc.path, r, page)
			shown := b.get(page)
			wantStatus(t, "GET the appeal", shown, http.StatusOK)
			if !strings.Contains(shown.body, tc.wantFlash) {
				t.Errorf("page after the action lacks the flash %q", tc.wantFlash)
			}

			after := e.detail(t, ref)
			added := after.Thread[len(before.Thread):]
			out := e.outboxTexts(t, chat)[len(outBefore):]
			if tc.wantKind == "" {
				if len(added) != 0 || len(out) != 0 {
					t.Fatalf("a refused action changed something: thread %+v, outbox %q", added, out)
				}
				return
			}
			if len(added) != 1 {
				t.Fatalf("new thread entries: got %d, want 1", len(added))
			}
			entry := added[0]
			if entry.Kind != tc.wantKind || entry.Author != me.Email || !strings.Contains(entry.Text, tc.wantText) {
				t.Errorf("thread entry: got %+v, want kind %s by %s with %q", entry, tc.wantKind, me.Email, tc.wantText)
			}
			// The page view itself is audited too (appeal.view): one more
			// than the action's own entry.
			if n := e.auditCount(t, me.Email, "", ref) - auditBefore; n < 2 {
				t.Errorf("audit entries of the action and the view: got %d, want 2", n)
			}
			switch {
			case tc.wantOut == "" && len(out) != 0:
				t.Errorf("queued for the person: %q, want nothing", out)
			case tc.wantOut != "" && (len(out) != 1 || out[0] != tc.wantOut):
				t.Errorf("queued for the person: got %q, want [%q]", out, tc.wantOut)
			case tc.wantOut != "" && entry.Delivery != migrantbot.DeliveryPending:
				t.Errorf("delivery state of the new message: got %q, want pending", entry.Delivery)
			}
			if tc.check != nil {
				tc.check(t, after)
			}
		})
	}
}

func TestAppealView(t *testing.T) {
	e := newEnv(t)
	b, me := e.loggedIn(t, "viewer@example.org", migrantbot.RoleReviewer)
	ref := e.submit(t, migrantbot.Appeal{
		Surname: "Nazarov", FirstName: "Rustam", Patronymic: "Akmalovich", Citizenship: "UZ", Country: "AZ",
		City: "Sumqayıt", Address: "Sülh küçəsi 5", Category: "documents", Authority: "DMX",
		When: migrantbot.WhenLastYear, Description: "Pasportumu saxladılar.", Phone: "+994501234567", Email: "r@example.org",
		Language: "ru",
	})
	// The person adds a message after submitting: the appeal has news.
	d := e.detail(t, ref)
	_, err := e.store.Apply(t.Context(), migrantbot.Update{ID: 99001, ChatID: d.Appeal.ChatID, UserID: d.Appeal.UserID},
		func(s migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
			return migrantbot.Turn{Session: s, FollowUps: []migrantbot.FollowUp{{Reference: ref, Text: "Есть новости?"}}}, nil
		})
	if err != nil {
		t.Fatalf("follow-up: %v", err)
	}
	list := b.get("/appeals")
	if !strings.Contains(list.body, `class="badge news"`) {
		t.Errorf("list does not mark the appeal with news")
	}

	r := b.get("/appeals/" + ref)
	wantStatus(t, "GET the appeal", r, http.StatusOK)
	for _, want := range []string{
		"Nazarov", "Rustam", "Akmalovich", "Uzbekistan", "Azerbaijan", "Sumqayıt", "Sülh küçəsi 5", "Documents and permits",
		"DMX", "within the last year", "Pasportumu saxladılar.", "+994501234567", "r@example.org", "Есть новости?", "From the person",
	} {
		if !strings.Contains(html.UnescapeString(r.body), want) {
			t.Errorf("appeal page lacks %q", want)
		}
	}
	if n := e.auditCount(t, me.Email, "appeal.view", ref); n != 1 {
		t.Errorf("appeal.view audit entries: got %d, want 1", n)
	}
	if e.detail(t, ref).HasNews {
		t.Errorf("HasNews still set after staff viewed the appeal")
	}
	if r := b.get("/appeals/AP-1999-999999"); r.status != http.StatusNotFound {
		t.Errorf("unknown appeal: status %d, want 404", r.status)
	}
}

func TestAppealList(t *testing.T) {
	e := newEnv(t)
	b, me := e.loggedIn(t, "lister@example.org", migrantbot.RoleReviewer)
	var refs []string
	for i, a := range []migrantbot.Appeal{
		{Surname: "Əliyeva", FirstName: "Günel", Category: "labour", Citizenship: "AZ", Country: "RU", Language: "az"},
		{Surname: "Иванов", FirstName: "Пётр", Category: "documents", Citizenship: "RU", Country: "AZ", Language: "ru"},
		{Surname: "Karimov", FirstName: "Jasur", Category: "labour", Citizenship: "UZ", Country: "AZ", Language: "en", Description: "unpaid wages at the construction site"},
	} {
		a.SubmittedAt = time.Date(2026, 3, 1+i, 10, 0, 0, 0, time.UTC)
		refs = append(refs, e.submit(t, a))
	}
	if err := e.store.Assign(t.Context(), me, refs[2], me.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  []string // references, in order
	}{
		{"", []string{refs[2], refs[1], refs[0]}},
		{"?category=labour", []string{refs[2], refs[0]}},
		{"?citizenship=RU", []string{refs[1]}},
		{"?country=AZ", []string{refs[2], refs[1]}},
		{"?language=az", []string{refs[0]}},
		{"?assignee=me", []string{refs[2]}},
		{"?assignee=none", []string{refs[1], refs[0]}},
		{"?q=" + url.QueryEscape("Иванов"), []string{refs[1]}},
		{"?q=wages", []string{refs[2]}},
		{"?q=" + refs[0], []string{refs[0]}},
		{"?status=in_review", nil},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := b.get("/appeals" + tc.query)
			wantStatus(t, "GET /appeals"+tc.query, r, http.StatusOK)
			var got []string
			for _, ref := range refs {
				if i := strings.Index(r.body, `href="/appeals/`+ref+`"`); i >= 0 {
					got = append(got, ref)
				}
			}
			slices.SortFunc(got, func(a, b string) int {
				return strings.Index(r.body, `href="/appeals/`+a+`"`) - strings.Index(r.body, `href="/appeals/`+b+`"`)
			})
			if !slices.Equal(got, tc.want) {
				t.Errorf("appeals shown: got %v, want %v", got, tc.want)
			}
		})
	}
	// Status tabs carry the counts of the filter and keep its other values.
	r := b.get("/appeals?category=labour")
	if !strings.Contains(r.body, `href="/appeals?category=labour&amp;status=new"`) {
		t.Errorf("status tab does not keep the filter")
	}
	if !strings.Contains(r.body, `New <span class="count">2</span>`) {
		t.Errorf("status tab lacks the count 2 of new labour appeals")
	}
	// Date range, in the office's time zone.
	r = b.get("/appeals?from=2026-03-02&to=2026-03-02")
	if !strings.Contains(r.body, refs[1]) || strings.Contains(r.body, refs[0]) || strings.Contains(r.body, refs[2]) {
		t.Errorf("date filter 2026-03-02 shows the wrong appeals")
	}
}

func TestAppealListPages(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn(t, "pager@example.org", migrantbot.RoleReviewer)
	for i := range pageSize + 3 {
		e.submit(t, migrantbot.Appeal{Surname: "Page", FirstName: itoa(int64(i))})
	}
	first := b.get("/appeals?category=labour")
	next := regexpNext.FindStringSubmatch(first.body)
	if next == nil {
		t.Fatalf("first page has no next link")
	}
	if n := strings.Count(first.body, `<td><a href="/appeals/AP-`); n != pageSize {
		t.Errorf("rows on the first page: got %d, want %d", n, pageSize)
	}
	href := strings.ReplaceAll(next[1], "&amp;", "&")
	if !strings.Contains(href, "category=labour") || !strings.Contains(href, "after=") {
		t.Errorf("next link %q lost the filter or the cursor", href)
	}
	second := b.get(href)
	wantStatus(t, "GET the next page", second, http.StatusOK)
	if n := strings.Count(second.body, `<td><a href="/appeals/AP-`); n != 3 {
		t.Errorf("rows on the second page: got %d, want 3", n)
	}
	if regexpNext.MatchString(second.body) {
		t.Errorf("the last page has a next link")
	}
}

var regexpNext = regexp.MustCompile(`<a href="([^"]+)" rel="next">`)

// An appeal whose person erased their data says so; one retention
// anonymized offers no reply, since nothing can reach the person.
func TestErasedAndAnonymizedAppeals(t *testing.T) {
	e := newEnv(t)
	b, _ := e.loggedIn(t, "viewer@example.org", migrantbot.RoleReviewer)
	erased := e.submit(t, migrantbot.Appeal{Surname: "Nazarov", Description: "Pasportumu saxladılar."})
	anonymized := e.submit(t, migrantbot.Appeal{Surname: "Aliyev", Description: "Maaş verilmir."})
	plain := e.submit(t, migrantbot.Appeal{Surname: "Huseynov", Description: "Maaş verilmir."})
	for ref, column := range map[string]string{erased: "erased_at", anonymized: "anonymized_at"} {
		if _, err := e.store.Pool().Exec(t.Context(), `UPDATE appeals SET `+column+` = now() WHERE reference = $1`, ref); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ref       string
		banner    string
		replyForm bool
	}{
		{erased, "erased their personal data", true},
		{anonymized, "Anonymized on", false},
		{plain, "", true},
	}
	for _, tt := range tests {
		r := b.get("/appeals/" + tt.ref)
		wantStatus(t, "GET "+tt.ref, r, http.StatusOK)
		body := html.UnescapeString(r.body)
		for _, banner := range []string{"erased their personal data", "Anonymized on"} {
			if got := strings.Contains(body, banner); got != (banner == tt.banner) {
				t.Errorf("%s: banner %q shown: %v", tt.ref, banner, got)
			}
		}
		if got := strings.Contains(body, "/replies"); got != tt.replyForm {
			t.Errorf("%s: reply form shown: %v, want %v", tt.ref, got, tt.replyForm)
		}
	}
}
