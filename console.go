package migrantbot

import (
	"context"
	"io"
	"time"
)

// Role is what a staff member may do in the console.
type Role string

// Roles of staff. Reviewers work appeals; admins also manage accounts and export.
const (
	RoleAdmin    Role = "admin"
	RoleReviewer Role = "reviewer"
)

// Staff is an account of the office's staff in the console.
type Staff struct {
	ID       int64
	Email    string
	Role     Role
	Lang     string // console language: en, az or ru
	Disabled bool
	// MustChangePassword is set for a one-time password, until it is changed.
	MustChangePassword bool
	CreatedAt          time.Time
	LastLoginAt        time.Time // zero when never
	// TOTPEnabled is set when a login needs, after the password, a code of
	// the account's authenticator app (TOTP).
	TOTPEnabled bool
}

// StaffSession is a logged-in browser session of a staff member.
type StaffSession struct {
	// ID names the session in pages and forms; the hash of its token, which
	// keys it in the store, never leaves the store.
	ID        int64
	Staff     Staff
	CSRF      string // the token every form of this session must carry
	IP        string // the address it logged in from
	CreatedAt time.Time
	LastSeen  time.Time
	// Pending is set between a correct password and the authenticator code
	// of an account with TOTP: such a session opens only the code form.
	Pending bool
}

// Partners the office refers appeals to.
var Partners = []string{"sms", "foreign_ombudsman", "embassy", "state_body", "ngo"}

// Referral is an appeal referred to a partner body.
type Referral struct {
	Partner string    // one of Partners
	Name    string    // e.g. "Embassy of Uzbekistan in Baku"
	Date    time.Time // the day it was referred
	Note    string
	By      string // staff email
	At      time.Time
}

// Thread entry kinds.
const (
	EntryMigrant  = "migrant"  // a message or file the person added after submitting
	EntryReply    = "reply"    // staff's reply sent to the person
	EntryNote     = "note"     // internal note, never shown to the person
	EntryStatus   = "status"   // a status change
	EntryReferral = "referral" // a referral to a partner
	EntryAssign   = "assign"   // an assignment to a reviewer
	EntryErasure  = "erasure"  // the person asked to erase their personal data (/forgetme)
)

// Delivery states of a message to a person.
const (
	DeliveryPending = "pending" // in the outbox, not yet accepted by Telegram
	DeliverySent    = "sent"
	DeliveryBlocked = "blocked" // the person blocked the bot
	DeliveryFailed  = "failed"  // retrying; LastError says why
)

// ThreadEntry is one event in the life of an appeal, oldest first.
type ThreadEntry struct {
	ID         int64
	At         time.Time
	Kind       string // one of the Entry kinds
	Author     string // staff email; "" for the person
	Text       string
	Status     Status // for EntryStatus: the new status
	Attachment *Attachment
	Delivery   string // for EntryReply and EntryStatus: the delivery state of the message to the person
	LastError  string
}

// AppealDetail is everything the console shows on an appeal's page.
type AppealDetail struct {
	Appeal        Appeal
	AssigneeID    int64 // 0 when unassigned
	AssigneeEmail string
	HasNews       bool // the person added something not yet seen by staff
	Thread        []ThreadEntry
	Referrals     []Referral
	// Blocked is true when the person blocked the bot: nothing reaches them.
	Blocked bool
}

// AppealFilter selects appeals for the console's list and the export.
type AppealFilter struct {
	Status      Status
	Category    string
	Citizenship string
	Country     string
	Language    string
	Assignee    int64 // 0: anyone; -1: unassigned
	From, To    time.Time
	Query       string // full-text search over names, references and descriptions
	After       string // keyset cursor from AppealPage.Next
	Limit       int
}

// AppealRow is one line of the console's list.
type AppealRow struct {
	Reference     string
	Surname       string
	FirstName     string
	Citizenship   string
	Country       string
	Category      string
	Language      string
	Status        Status
	AssigneeEmail string
	HasNews       bool
	SubmittedAt   time.Time
}

// AppealPage is one page of the list, with the counts per status of the
// whole filter (ignoring its status).
type AppealPage struct {
	Rows   []AppealRow
	Next   string // cursor of the next page; "" on the last
	Counts map[Status]int
}

// Count is one bar of a statistics chart.
type Count struct {
	Label string
	N     int
}

// Stats are the figures of the statistics page.
type Stats struct {
	PerWeek       []Count // label: the Monday of the week, 2006-01-02; the last 26 weeks
	ByCategory    []Count
	ByCitizenship []Count
	ByCountry     []Count
	ByStatus      []Count
	// MedianFirstAnswer is the median time from submission to the first reply
	// to the person; Answered counts the appeals it is taken over.
	MedianFirstAnswer time.Duration
	Answered          int
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string // staff email, or "system"
	Action string // e.g. "appeal.view", "appeal.status", "staff.add", "export"
	Target string // an appeal reference or a staff email
	Detail string // what changed, without personal data of migrants
	IP     string
}

// AuditFilter selects audit entries, newest first; an empty field matches
// anything.
type AuditFilter struct {
	Actor, Action, Target string
	From, To              time.Time // entries at or after From and before To
	Before                int64     // only entries with a smaller ID: the paging cursor
	Limit                 int
}

// Notifier renders the messages the bot sends to a person about their
// appeal, in the person's language. The dialogs implement it.
type Notifier interface {
	StatusChanged(lang, reference string, status Status, reason string) Message
	Reply(lang, reference, text string) Message
}

// FileSource fetches a file a person sent, through the Bot API, without
// exposing the bot token. The bot implements it.
type FileSource interface {
	// OpenFile returns the file's content, its MIME type when known, and its size.
	OpenFile(ctx context.Context, fileID string) (io.ReadCloser, string, int64, error)
}
