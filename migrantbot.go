// Package migrantbot is the domain of the migrant appeals bot: appeals, dialog
// sessions, the inputs a person sends and the messages the bot answers with, and
// the interfaces that the adapters (store, bot, terminal chat) implement or use.
//
// It imports only the standard library; every other package points inward to it.
package migrantbot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Languages the bot speaks completely. The first is the fallback.
var Languages = []string{"en", "az", "ru"}

// Status is the stage of an appeal in the office's work.
type Status string

// The statuses of an appeal. A submitted appeal starts as StatusNew.
const (
	StatusNew      Status = "new"
	StatusInReview Status = "in_review"
	StatusReferred Status = "referred"
	StatusAnswered Status = "answered"
	StatusClosed   Status = "closed"
	StatusRejected Status = "rejected"
)

// Appeal is a complaint filed by a person with the ombudsman office. While the
// person is still answering questions, the same type holds the draft.
type Appeal struct {
	Reference string    `json:"reference,omitempty"` // e.g. AP-2026-000042, set on submit
	UserID    int64     `json:"user_id"`
	ChatID    int64     `json:"chat_id"`
	Language  string    `json:"language"`
	Status    Status    `json:"status,omitempty"`
	ConsentAt time.Time `json:"consent_at"`
	// ConsentVersion names the privacy notice the person agreed to.
	ConsentVersion string `json:"consent_version"`

	Surname    string `json:"surname"`
	FirstName  string `json:"first_name"`
	Patronymic string `json:"patronymic"` // "" when the person has none

	Citizenship string `json:"citizenship"` // ISO 3166 alpha-2 code from a button, or the typed text
	Country     string `json:"country"`     // where the person is now
	City        string `json:"city"`
	Address     string `json:"address"` // where the person can be reached

	Category  string `json:"category"`  // one of Categories
	Authority string `json:"authority"` // the body or official, "" when unknown

	// When holds the period code (WhenThisMonth, WhenLastYear, WhenOverYear)
	// or a date typed by the person in the form 2006-01-02.
	When        string `json:"when"`
	OverOneYear bool   `json:"over_one_year"`

	Description string `json:"description"`

	Phone       string `json:"phone"`
	PhoneShared bool   `json:"phone_shared"` // true when shared with Telegram's contact button
	Email       string `json:"email"`

	Attachments []Attachment `json:"attachments,omitempty"`

	SubmittedAt time.Time `json:"submitted_at"`

	// ErasedAt is when the person erased their data (/forgetme), and
	// AnonymizedAt when retention did; zero when neither. Not in sessions.
	ErasedAt     time.Time `json:"-"`
	AnonymizedAt time.Time `json:"-"`
}

// Period codes for Appeal.When.
const (
	WhenThisMonth = "this_month"
	WhenLastYear  = "last_year"
	WhenOverYear  = "over_year"
)

// Categories of what happened, in the order the bot offers them.
var Categories = []string{
	"detention", "documents", "labour", "trafficking",
	"consular", "family", "discrimination", "other",
}

// Attachment is a photo or document a person added to an appeal. The file itself
// stays with Telegram; FileID fetches it through the Bot API.
type Attachment struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	Kind         string `json:"kind"` // "photo" or "document"
	Size         int64  `json:"size"`
	FileName     string `json:"file_name,omitempty"`
	MimeType     string `json:"mime_type,omitempty"`
	Caption      string `json:"caption,omitempty"`
	MediaGroupID string `json:"media_group_id,omitempty"` // an album shares one
}

// AppealSummary is one line of a person's "My appeals" list.
type AppealSummary struct {
	Reference   string
	Category    string
	Status      Status
	SubmittedAt time.Time
}

// Session is the dialog state of one chat. It is stored in PostgreSQL after every
// update, so a restarted bot (on any instance) resumes at the same step.
type Session struct {
	ChatID  int64  `json:"chat_id"`
	UserID  int64  `json:"user_id"`
	Lang    string `json:"lang"`  // "" until the person has chosen
	State   string `json:"state"` // the dialog's state machine state; "" is new
	Version int64  `json:"version"`

	// Draft is the appeal being filled in, kept across /menu and restarts.
	Draft *Appeal `json:"draft,omitempty"`
	// Return is the state to go back to after a detour: the review screen after
	// editing one answer, or the question interrupted by /cancel.
	Return string `json:"return,omitempty"`
	// Resume is the appeal question to come back to when the person left the
	// appeal for the menu, the rights information or the language choice.
	Resume string `json:"resume,omitempty"`
	// Replace is set while editing the description: the next text replaces the
	// old description instead of being added to it.
	Replace bool `json:"replace,omitempty"`
	// Preset is the answer to "what happened" chosen in advance on a rights
	// article; the category question is skipped once, with it.
	Preset string `json:"preset,omitempty"`
	// Batch is the media group id of the album being received, so that an
	// album counts as one batch of attachments.
	Batch string `json:"batch,omitempty"`
	// Cursor is free position data of the current state (the rights category
	// being browsed, for example).
	Cursor string `json:"cursor,omitempty"`
	// Consent is the person's last answer to the privacy notice. An appeal
	// started under the same version of the notice does not ask again.
	Consent *Consent `json:"consent,omitempty"`
}

// Consent is a person's answer to one version of the privacy notice.
type Consent struct {
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Agreed  bool      `json:"agreed"`
}

// InputKind says what a person sent.
type InputKind int

// The kinds of input the dialogs understand.
const (
	InputText        InputKind = iota + 1
	InputCommand               // Command holds the name without the slash
	InputButton                // Data holds the callback data
	InputContact               // Phone holds the shared number
	InputFile                  // File holds a photo or document
	InputUnsupported           // sticker, voice, video note, location, poll...
	InputEdited                // an edited message: its new text is not taken as an answer
	// InputLimited stands for a message sent over the per-person rate limit:
	// the adapter passes on the first one of a window, without its content,
	// so that the person is told to slow down, and drops the rest.
	InputLimited
)

// Input is one thing a person did in the chat, free of Telegram types.
type Input struct {
	Kind    InputKind
	Text    string // message text or file caption
	Command string // "start", "menu"... lower case, without "@botname"
	Data    string // callback data of a pressed button
	Phone   string
	// OwnContact is true when a shared contact is the sender's own.
	OwnContact bool
	File       *Attachment
	// LanguageCode is Telegram's language_code of the sender, used to preselect
	// a language.
	LanguageCode string
	// MessageID is the message the pressed button belongs to, so the answer can
	// replace it in place.
	MessageID int
	// Group is true when the message came from a group, not a private chat.
	Group bool
	Now   time.Time
}

// Button is an inline button. Data must stay within Telegram's 64 bytes.
type Button struct {
	Text string `json:"text"`
	Data string `json:"data"`
}

// Message is one message from the bot to a person.
//
// Text is in Telegram's HTML subset (<b>, <i>, <a href>), with everything that
// came from a person already escaped. The adapter splits it when it is longer
// than a Telegram message allows.
type Message struct {
	Text    string     `json:"text"`
	Buttons [][]Button `json:"buttons,omitempty"`
	// ContactButton, when set, shows a reply keyboard with one button that
	// shares the person's phone number, labelled with this text.
	ContactButton string `json:"contact_button,omitempty"`
	// RemoveKeyboard hides a reply keyboard shown earlier.
	RemoveKeyboard bool `json:"remove_keyboard,omitempty"`
	// EditMessageID, when not zero, asks to replace that earlier message of the
	// bot (the one whose button was pressed) instead of sending a new one.
	EditMessageID int `json:"edit_message_id,omitempty"`
	// Document, when set, is a file sent with Text as its caption (at most
	// 1024 characters).
	Document *Document `json:"document,omitempty"`
}

// Document is a file the bot makes and sends, such as a person's data.
type Document struct {
	FileName string `json:"file_name"`
	Data     []byte `json:"data"`
}

// Turn is what one dialog step decided: the new session, the messages to send,
// and the effects to commit with it.
type Turn struct {
	Session  Session
	Messages []Message
	// Notice is the short text shown when answering a pressed button.
	Notice string
	// Submit, when set, is an appeal to save; its Reference is already set.
	Submit *Appeal
	// FollowUps are messages or files the person added to submitted appeals.
	FollowUps []FollowUp
	// Others are messages to other chats (the staff group), sent through the
	// outbox with the turn.
	Others []Outgoing
	// Consent, when set, is an answer to the privacy notice given in this
	// turn, to be kept with the person.
	Consent *Consent
	// Forget erases the person's personal data: their details in every
	// appeal, the files and messages they sent, and what was sent to them.
	// Staff are told on each open appeal.
	Forget bool
}

// FollowUp is a message or a file a person adds to an appeal they submitted.
// It appears in the staff's thread and marks the appeal as having news.
type FollowUp struct {
	Reference string
	Text      string
	File      *Attachment
}

// Records is what a dialog step may read or reserve while its update is being
// applied. The store implements it inside the update's transaction.
type Records interface {
	// NextReference reserves a new appeal reference such as AP-2026-000042.
	NextReference() (string, error)
	// AppealsOf lists the appeals of a person, newest first.
	AppealsOf(userID int64) ([]AppealSummary, error)
	// AppealOf returns one appeal of a person with the part of its thread the
	// person may see (no internal notes, no staff names). Returns ENOTFOUND
	// when the appeal does not exist or is someone else's.
	AppealOf(userID int64, reference string) (AppealDetail, error)
	// DataOf returns everything stored about a person, for /mydata.
	DataOf(userID int64) (PersonData, error)
}

// PersonData is everything stored about one person: what /mydata sends.
// Internal notes of the office are not included.
type PersonData struct {
	UserID    int64     `json:"user_id"`
	ChatID    int64     `json:"chat_id"`
	Language  string    `json:"language"`
	FirstSeen time.Time `json:"first_seen"`
	Consent   *Consent  `json:"consent,omitempty"`
	// Draft is the appeal being written, not yet sent.
	Draft   *Appeal        `json:"draft,omitempty"`
	Appeals []AppealDetail `json:"appeals"`
}

// StepFunc runs one dialog step on the locked session of a chat.
type StepFunc func(s Session, rec Records) (Turn, error)

// Update identifies one incoming update, for the exactly-once unit of work.
type Update struct {
	ID     int64 // Telegram's update_id; 0 for inputs without one (terminal chat)
	ChatID int64
	UserID int64
}

// Outgoing is a message waiting in the durable outbox.
type Outgoing struct {
	ID      int64
	ChatID  int64
	Message Message
}

// Handled is what applying one update produced: the outbox entries to deliver
// now, and the notice to show when answering a pressed button.
type Handled struct {
	Outgoing []Outgoing
	Notice   string
}

// Conversations applies updates to dialogs exactly once. The store implements it.
type Conversations interface {
	// Apply locks the session of u.ChatID (creating it when new), runs step on
	// it, and commits the new session, the submitted appeal, the turn's messages
	// (into the outbox) and the update id in one transaction. An update whose id
	// was already applied runs nothing and returns ErrDuplicate.
	Apply(ctx context.Context, u Update, step StepFunc) (Handled, error)
}

// HandleFunc applies one input of one chat exactly once: the adapters (bot,
// terminal chat) call it, cmd wires it to the store and the dialogs.
type HandleFunc func(ctx context.Context, u Update, in Input) (Handled, error)

// Command is a bot command with its description in one language.
type Command struct {
	Name        string // without the slash
	Description string
}

// Outbox tracks the delivery of outgoing messages.
type Outbox interface {
	// MarkSent records that message id reached Telegram.
	MarkSent(ctx context.Context, id int64) error
	// Retry schedules message id to be tried again after wait.
	Retry(ctx context.Context, id int64, wait time.Duration, reason string) error
	// Due claims up to limit messages whose time to be tried has come.
	Due(ctx context.Context, limit int) ([]Outgoing, error)
	// Blocked records that message id cannot be delivered because the person
	// blocked the bot: it is not retried, and the person is marked blocked.
	Blocked(ctx context.Context, id int64, reason string) error
}

// Error codes of the application, translated at each edge.
const (
	ENOTFOUND  = "not_found"
	EINVALID   = "invalid"
	ECONFLICT  = "conflict"
	EDUPLICATE = "duplicate"
	EINTERNAL  = "internal"
)

// Error is an application error with a code a caller can act on.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrDuplicate is returned when an update was already applied.
var ErrDuplicate = &Error{Code: EDUPLICATE, Message: "update already applied"}
