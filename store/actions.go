package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// Limits of what staff write.
const (
	maxReplyRunes = 4000
	maxNoteRunes  = 10000
	maxShortRunes = 500 // a reason, a partner's name
)

// statusRank orders the statuses an appeal moves forward through.
// Rejected is outside the order: it can be reached from any status but
// closed, and nothing follows it.
var statusRank = map[migrantbot.Status]int{
	migrantbot.StatusNew:      0,
	migrantbot.StatusInReview: 1,
	migrantbot.StatusReferred: 2,
	migrantbot.StatusAnswered: 3,
	migrantbot.StatusClosed:   4,
}

// checkTransition returns EINVALID unless an appeal may move from one
// status to the other.
func checkTransition(from, to migrantbot.Status, reason string) error {
	_, known := statusRank[to]
	switch {
	case !known && to != migrantbot.StatusRejected:
		return migrantbot.Errorf(migrantbot.EINVALID, "unknown status %q", to)
	case from == to:
		return migrantbot.Errorf(migrantbot.EINVALID, "the appeal is %s already", to)
	case from == migrantbot.StatusClosed || from == migrantbot.StatusRejected:
		return migrantbot.Errorf(migrantbot.EINVALID, "a %s appeal cannot change status", from)
	case to == migrantbot.StatusRejected:
		if strings.TrimSpace(reason) == "" {
			return migrantbot.Errorf(migrantbot.EINVALID, "rejecting an appeal needs a reason")
		}
		return nil
	case statusRank[to] < statusRank[from]:
		return migrantbot.Errorf(migrantbot.EINVALID, "an appeal cannot go back from %s to %s", from, to)
	}
	return nil
}

// lockedAppeal is the part of an appeal an action needs, read with the row
// locked until the action commits.
type lockedAppeal struct {
	id         int64
	reference  string
	status     migrantbot.Status
	chatID     int64
	assigneeID int64
}

// entry is a thread entry to add.
type entry struct {
	kind   string
	text   string
	status migrantbot.Status
	msg    *migrantbot.Message // to the person, through the outbox
}

// act runs one staff action on the appeal ref as one transaction: it locks
// the appeal, lets change make the change and describe it, then adds the
// change's thread entry (with its outbox row when it carries a message) and
// an audit entry. change returning a nil entry means nothing changed: the
// transaction commits nothing.
func (s *Store) act(ctx context.Context, actor migrantbot.Staff, ref, action string,
	change func(tx pgx.Tx, a lockedAppeal) (e *entry, detail string, err error)) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			a      lockedAppeal
			status string
		)
		err := tx.QueryRow(ctx, `SELECT id, reference, status, chat_id, coalesce(assignee_id, 0) FROM appeals
			WHERE reference = $1 FOR UPDATE`, ref).Scan(&a.id, &a.reference, &status, &a.chatID, &a.assigneeID)
		if err != nil {
			return notFound(err, "no appeal %s", ref)
		}
		a.status = migrantbot.Status(status)
		e, detail, err := change(tx, a)
		if err != nil || e == nil {
			return err
		}
		var outboxID *int64
		// An anonymized appeal no longer knows its person's chat: a reply
		// cannot reach anyone, and a status change is recorded unsent.
		if e.msg != nil && a.chatID == 0 {
			if e.kind == migrantbot.EntryReply {
				return migrantbot.Errorf(migrantbot.EINVALID, "appeal %s was anonymized: its person cannot be written to", a.reference)
			}
			e.msg = nil
		}
		if e.msg != nil {
			payload, err := json.Marshal(e.msg)
			if err != nil {
				return fmt.Errorf("encode message: %w", err)
			}
			if payload, err = s.sealJSON(payload); err != nil {
				return fmt.Errorf("encode message: %w", err)
			}
			// Nobody delivers it right after the commit, unlike the bot's
			// answers, so it is due at once for the outbox worker.
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO outbox (chat_id, payload) VALUES ($1, $2) RETURNING id`,
				a.chatID, payload).Scan(&id); err != nil {
				return fmt.Errorf("queue message: %w", err)
			}
			outboxID = &id
		}
		// Every entry's text is sealed, whatever its kind: a reply or a note
		// holds the person's story, and one rule is easier to keep.
		text, err := s.seal(e.text)
		if err != nil {
			return fmt.Errorf("record %s: %w", action, err)
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO thread_entries (appeal_id, kind, author_id, text, status, outbox_id)
			VALUES ($1, $2, (SELECT id FROM staff WHERE id = $3), $4, $5, $6)`,
			a.id, e.kind, actor.ID, text, string(e.status), outboxID)
		b.Queue(`INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4)`,
			actorName(actor), action, a.reference, detail)
		b.Queue(`UPDATE appeals SET updated_at = now() WHERE id = $1`, a.id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("record %s: %w", action, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %s %s by %s: %w", action, ref, actorName(actor), err)
	}
	return nil
}

// actorName is who the audit log names for an action.
func actorName(actor migrantbot.Staff) string {
	if actor.Email == "" {
		return "system"
	}
	return actor.Email
}

// Assign assigns the appeal ref to the staff account staffID, or leaves it
// unassigned when staffID is 0. Assigning it to its assignee changes
// nothing. Returns ENOTFOUND if there is no such appeal, EINVALID if the
// account does not exist or is disabled.
func (s *Store) Assign(ctx context.Context, actor migrantbot.Staff, ref string, staffID int64) error {
	return s.act(ctx, actor, ref, "appeal.assign", func(tx pgx.Tx, a lockedAppeal) (*entry, string, error) {
		if staffID == a.assigneeID {
			return nil, "", nil
		}
		email := ""
		var assignee *int64
		if staffID != 0 {
			var disabled bool
			err := tx.QueryRow(ctx, `SELECT email, disabled FROM staff WHERE id = $1`, staffID).Scan(&email, &disabled)
			if err != nil {
				return nil, "", notFoundAs(err, migrantbot.EINVALID, "no staff account %d", staffID)
			}
			if disabled {
				return nil, "", migrantbot.Errorf(migrantbot.EINVALID, "staff account %d is disabled", staffID)
			}
			assignee = &staffID
		}
		if _, err := tx.Exec(ctx, `UPDATE appeals SET assignee_id = $2 WHERE id = $1`, a.id, assignee); err != nil {
			return nil, "", err
		}
		detail := "unassigned"
		if email != "" {
			detail = "assignee " + email
		}
		return &entry{kind: migrantbot.EntryAssign, text: email}, detail, nil
	})
}

// ChangeStatus moves the appeal ref to another status. An appeal moves
// forward along new, in review, referred, answered, closed (steps may be
// skipped, never undone), or is rejected from any status but closed, with a
// reason the person sees; closed and rejected are final. The thread entry
// holds the reason; msg, when not nil, is the message telling the person,
// queued in the outbox with the change. Returns EINVALID for a move that is
// not allowed (the same status included) or a rejection without a reason,
// ENOTFOUND if there is no such appeal.
func (s *Store) ChangeStatus(ctx context.Context, actor migrantbot.Staff, ref string, to migrantbot.Status, reason string, msg *migrantbot.Message) error {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxShortRunes {
		return fmt.Errorf("store: change status of %s: %w", ref,
			migrantbot.Errorf(migrantbot.EINVALID, "a reason is at most %d characters", maxShortRunes))
	}
	return s.act(ctx, actor, ref, "appeal.status", func(tx pgx.Tx, a lockedAppeal) (*entry, string, error) {
		if err := checkTransition(a.status, to, reason); err != nil {
			return nil, "", err
		}
		final := to == migrantbot.StatusClosed || to == migrantbot.StatusRejected
		if _, err := tx.Exec(ctx, `UPDATE appeals SET status = $2, closed_at = CASE WHEN $3 THEN now() END WHERE id = $1`,
			a.id, string(to), final); err != nil {
			return nil, "", err
		}
		return &entry{kind: migrantbot.EntryStatus, text: reason, status: to, msg: msg},
			string(a.status) + " -> " + string(to), nil
	})
}

// Refer records that the appeal ref was referred to a partner body on
// r.Date. r.By and r.At are set by the store (the actor, now). Returns
// EINVALID for a partner not in migrantbot.Partners or a missing date,
// ENOTFOUND if there is no such appeal. The appeal's status is not changed.
func (s *Store) Refer(ctx context.Context, actor migrantbot.Staff, ref string, r migrantbot.Referral) error {
	r.Name, r.Note = strings.TrimSpace(r.Name), strings.TrimSpace(r.Note)
	var invalid error
	switch {
	case !slices.Contains(migrantbot.Partners, r.Partner):
		invalid = migrantbot.Errorf(migrantbot.EINVALID, "unknown partner %q", r.Partner)
	case r.Date.IsZero():
		invalid = migrantbot.Errorf(migrantbot.EINVALID, "a referral needs its date")
	case utf8.RuneCountInString(r.Name) > maxShortRunes:
		invalid = migrantbot.Errorf(migrantbot.EINVALID, "a partner's name is at most %d characters", maxShortRunes)
	case utf8.RuneCountInString(r.Note) > maxNoteRunes:
		invalid = migrantbot.Errorf(migrantbot.EINVALID, "a note is at most %d characters", maxNoteRunes)
	}
	if invalid != nil {
		return fmt.Errorf("store: refer %s: %w", ref, invalid)
	}
	// The day as written, whatever the time zone of the time holding it.
	day := time.Date(r.Date.Year(), r.Date.Month(), r.Date.Day(), 0, 0, 0, 0, time.UTC)
	// A partner's name may be a person (a lawyer, an official) and a note
	// the person's story: both are sealed.
	name, note := r.Name, r.Note
	if err := s.sealAll(&name, &note); err != nil {
		return fmt.Errorf("store: refer %s: %w", ref, err)
	}
	return s.act(ctx, actor, ref, "appeal.refer", func(tx pgx.Tx, a lockedAppeal) (*entry, string, error) {
		if _, err := tx.Exec(ctx, `INSERT INTO referrals (appeal_id, partner, name, referred_on, note, by_id)
			VALUES ($1, $2, $3, $4, $5, (SELECT id FROM staff WHERE id = $6))`,
			a.id, r.Partner, name, day, note, actor.ID); err != nil {
			return nil, "", err
		}
		text := r.Name
		if text == "" {
			text = r.Partner
		}
		return &entry{kind: migrantbot.EntryReferral, text: text}, "partner " + r.Partner + " on " + day.Format(time.DateOnly), nil
	})
}

// AddNote adds an internal note to the appeal ref, never shown to the
// person. Returns EINVALID for an empty or too long note (10,000
// characters), ENOTFOUND if there is no such appeal.
func (s *Store) AddNote(ctx context.Context, actor migrantbot.Staff, ref, text string) error {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > maxNoteRunes {
		return fmt.Errorf("store: note on %s: %w", ref,
			migrantbot.Errorf(migrantbot.EINVALID, "a note has 1 to %d characters", maxNoteRunes))
	}
	return s.act(ctx, actor, ref, "appeal.note", func(pgx.Tx, lockedAppeal) (*entry, string, error) {
		return &entry{kind: migrantbot.EntryNote, text: text}, "", nil
	})
}

// Reply records a reply of staff to the person and queues msg, the message
// carrying it, in the outbox. The first reply to an appeal sets its time of
// first answer. Returns EINVALID for a text of no or more than 4000
// characters, ENOTFOUND if there is no such appeal.
func (s *Store) Reply(ctx context.Context, actor migrantbot.Staff, ref, text string, msg migrantbot.Message) error {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > maxReplyRunes {
		return fmt.Errorf("store: reply on %s: %w", ref,
			migrantbot.Errorf(migrantbot.EINVALID, "a reply has 1 to %d characters", maxReplyRunes))
	}
	return s.act(ctx, actor, ref, "appeal.reply", func(tx pgx.Tx, a lockedAppeal) (*entry, string, error) {
		if _, err := tx.Exec(ctx, `UPDATE appeals SET first_answer_at = coalesce(first_answer_at, now()) WHERE id = $1`, a.id); err != nil {
			return nil, "", err
		}
		return &entry{kind: migrantbot.EntryReply, text: text, msg: &msg}, "", nil
	})
}

// MarkSeen records that staff have seen what the person added to the
// appeal ref. Returns ENOTFOUND if there is no such appeal.
func (s *Store) MarkSeen(ctx context.Context, ref string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE appeals SET has_news = false WHERE reference = $1 AND has_news`, ref)
	if err != nil {
		return fmt.Errorf("store: mark %s seen: %w", ref, err)
	}
	if tag.RowsAffected() == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM appeals WHERE reference = $1)`, ref).Scan(&exists); err != nil {
			return fmt.Errorf("store: mark %s seen: %w", ref, err)
		}
		if !exists {
			return fmt.Errorf("store: mark %s seen: %w", ref, migrantbot.Errorf(migrantbot.ENOTFOUND, "no appeal %s", ref))
		}
	}
	return nil
}
