package store

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// DataOf returns everything stored about a person, for /mydata: their
// record, their last answer to the privacy notice, and each of their
// appeals as the person sees it (no internal notes, no staff names). The
// draft lives in the session, which the dialog step already holds.
func (r *records) DataOf(userID int64) (migrantbot.PersonData, error) {
	d := migrantbot.PersonData{UserID: userID}
	var version string
	var at *time.Time
	var agreed *bool
	err := r.tx.QueryRow(r.ctx, `SELECT chat_id, language, created_at, consent_version, consent_at, consent_agreed
		FROM users WHERE user_id = $1`, userID).Scan(&d.ChatID, &d.Language, &d.FirstSeen, &version, &at, &agreed)
	switch {
	case err == pgx.ErrNoRows:
	case err != nil:
		return d, r.fail(fmt.Errorf("store: data of user %d: %w", userID, err))
	case at != nil && agreed != nil:
		d.Consent = &migrantbot.Consent{Version: version, At: *at, Agreed: *agreed}
	}
	list, err := appealsOf(r.ctx, r.tx, userID)
	if err != nil {
		return d, r.fail(fmt.Errorf("store: data of user %d: %w", userID, err))
	}
	d.Appeals = make([]migrantbot.AppealDetail, 0, len(list))
	for _, a := range list {
		det, err := r.AppealOf(userID, a.Reference)
		if err != nil {
			return d, err
		}
		d.Appeals = append(d.Appeals, det)
	}
	return d, nil
}

// queuePrivacy queues what a turn decided about the person's data: erasure,
// then their answer to the privacy notice. They go in the turn's batch
// before its messages, so that erasure never takes the turn's own answer
// with it. It returns how many statements it queued, for reading their
// results.
func queuePrivacy(b *pgx.Batch, u migrantbot.Update, userID int64, turn migrantbot.Turn) int {
	if userID == 0 {
		return 0
	}
	n := 0
	if turn.Forget {
		b.Queue(forgetSQL, userID, u.ChatID)
		n++
	}
	if c := turn.Consent; c != nil {
		b.Queue(`INSERT INTO users (user_id, chat_id, language, consent_version, consent_at, consent_agreed)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (user_id) DO UPDATE SET consent_version = EXCLUDED.consent_version,
				consent_at = EXCLUDED.consent_at, consent_agreed = EXCLUDED.consent_agreed, updated_at = now()`,
			userID, u.ChatID, turn.Session.Lang, c.Version, c.At, c.Agreed)
		n++
	}
	return n
}

// forgetSQL erases a person's personal data ($1 the user, $2 their chat) in
// one statement: their details,
// files and messages in every appeal, the messages sent to them, and their
// answer to the privacy notice. Each open appeal gets an erasure entry in
// its thread and news for staff; every appeal gets an audit entry. What
// stays is what the statistics count (status, category, countries,
// language, dates) and the staff's own replies and notes, which the office
// may be obliged to keep; the audit entry says so. Closed appeals are
// unlinked from the person's Telegram ids too.
const forgetSQL = `
		WITH mine AS (
			SELECT id, reference, status NOT IN ('closed', 'rejected') AS open FROM appeals WHERE user_id = $1
		), told AS (
			INSERT INTO thread_entries (appeal_id, kind) SELECT id, 'erasure' FROM mine WHERE open
		), audited AS (
			INSERT INTO audit_log (actor, action, target, detail)
			SELECT 'person', 'appeal.erasure', reference,
				'the person erased their personal data (/forgetme); staff replies and notes are kept as the law requires'
			FROM mine
		), files AS (
			DELETE FROM attachments WHERE appeal_id IN (SELECT id FROM mine)
		), said AS (
			UPDATE thread_entries SET text = '', attachment = NULL
			WHERE kind = 'migrant' AND appeal_id IN (SELECT id FROM mine)
		), sent AS (
			-- Messages still waiting are never sent, not marked sent: they
			-- may quote what the person wrote. Rows stay for the threads'
			-- delivery states.
			UPDATE outbox SET payload = '{}',
				next_attempt_at = CASE WHEN sent_at IS NULL AND blocked_at IS NULL THEN 'infinity' ELSE next_attempt_at END,
				last_error = CASE WHEN sent_at IS NULL THEN 'erased at the person''s request' ELSE last_error END
			WHERE chat_id = $2
		), person AS (
			UPDATE users SET consent_version = '', consent_at = NULL, consent_agreed = NULL, updated_at = now()
			WHERE user_id = $1
		)
		UPDATE appeals a SET surname = '', first_name = '', patronymic = '', city = '', address = '',
			authority = '', description = '', phone = '', phone_shared = false, email = '',
			search = ''::tsvector, erased_at = now(), updated_at = now(),
			has_news = a.has_news OR m.open,
			-- An open appeal keeps the way to its person, so that the office
			-- can still answer; a closed one no longer needs it.
			user_id = CASE WHEN m.open THEN a.user_id ELSE 0 END,
			chat_id = CASE WHEN m.open THEN a.chat_id ELSE 0 END
		FROM mine m WHERE a.id = m.id`
