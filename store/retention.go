package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// Defaults of RetentionPolicy.
const (
	DefaultDraftAge    = 30 * 24 * time.Hour
	DefaultClosedAge   = 1825 * 24 * time.Hour // five years
	DefaultUpdatesAge  = 7 * 24 * time.Hour
	DefaultDeliveryAge = 30 * 24 * time.Hour
	DefaultMinInterval = 20 * time.Hour
)

// retentionLockKey is the advisory lock that one retention run holds for
// its transaction, so that the instances of the bot never run it at the
// same time. It is a key of the one-bigint space (goose's migration lock
// is another key of it).
const retentionLockKey int64 = 0x6d62_7265_7465_6e74 // "mbretent"

// RetentionPolicy says how long the store keeps what. Every duration must be
// positive.
type RetentionPolicy struct {
	// DraftAge: a session holding an unfinished appeal draft that has not
	// changed for this long loses the draft and its files; the person's
	// language stays and the dialog goes back to ResetState.
	DraftAge time.Duration
	// ClosedAge: a closed or rejected appeal is anonymized this long after
	// it was closed.
	ClosedAge time.Duration
	// UpdatesAge: processed update ids are kept this long; Telegram
	// redelivers an update for a day at most.
	UpdatesAge time.Duration
	// DeliveryAge: an outbox message sent (or found undeliverable because
	// the person blocked the bot) this long ago is deleted, or, when a thread
	// entry links it for its delivery state, emptied of its text.
	DeliveryAge time.Duration
	// MinInterval: the daily job skips a run when the last one is more
	// recent than this.
	MinInterval time.Duration
	// ResetState is the dialog state a session goes back to when its draft
	// is dropped and the person has chosen a language (the dialogs' main
	// menu); a session without a language starts over.
	ResetState string
}

// DefaultRetention returns the policy of DESIGN.md: drafts dropped after
// 30 days, closed appeals anonymized after five years, update ids kept a
// week, delivered messages a month; resetState is the dialogs' main menu.
func DefaultRetention(resetState string) RetentionPolicy {
	return RetentionPolicy{
		DraftAge: DefaultDraftAge, ClosedAge: DefaultClosedAge, UpdatesAge: DefaultUpdatesAge,
		DeliveryAge: DefaultDeliveryAge, MinInterval: DefaultMinInterval, ResetState: resetState,
	}
}

func (p RetentionPolicy) check() error {
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"draft age", p.DraftAge}, {"closed age", p.ClosedAge}, {"updates age", p.UpdatesAge},
		{"delivery age", p.DeliveryAge}, {"minimum interval", p.MinInterval}} {
		if d.d <= 0 {
			return migrantbot.Errorf(migrantbot.EINVALID, "retention %s %v is not positive", d.name, d.d)
		}
	}
	if p.ResetState == "" {
		return migrantbot.Errorf(migrantbot.EINVALID, "retention needs the state a reset session goes back to")
	}
	return nil
}

// RetentionMode says how RunRetention runs.
type RetentionMode int

const (
	// RetentionDaily is the job of every instance: it runs unless another
	// instance is running it right now or it ran less than MinInterval ago.
	RetentionDaily RetentionMode = iota
	// RetentionNow runs at once, whenever the last run was; it waits for a
	// run of another instance to end first.
	RetentionNow
	// RetentionDryRun finds what RetentionNow would remove, and removes
	// nothing.
	RetentionDryRun
)

// RetentionReport is what a retention run removed (or, dry, would remove):
// counts, and the references of the anonymized appeals, never their
// content.
type RetentionReport struct {
	// Ran is false when the daily job skipped the run.
	Ran bool
	// DryRun is true when nothing was changed.
	DryRun bool
	// DraftsReset counts the sessions whose draft was dropped.
	DraftsReset int
	// Anonymized lists the references of the appeals anonymized.
	Anonymized []string
	// UpdatesPruned counts the processed update ids deleted.
	UpdatesPruned int
	// OutboxDeleted counts the delivered outbox messages deleted.
	OutboxDeleted int
	// OutboxBlanked counts the outbox messages emptied of their text and
	// kept for the delivery state of a thread entry.
	OutboxBlanked int
}

// errDryRun rolls back the transaction of a dry run.
var errDryRun = errors.New("dry run")

// RunRetention applies the retention policy p in one transaction under an
// advisory lock, so that instances never do the work twice. A run that did
// its work is recorded in retention_runs with its counts, which the daily
// job of every instance reads to run at most once per MinInterval. A
// skipped daily run returns a report with Ran false. A dry run does all the
// work and rolls it back, so it reports exactly what a run would do.
//
// What it does:
//   - a session with a draft appeal unchanged for DraftAge loses the draft
//     (and the files in it) and the dialog's detours, keeps its language,
//     and goes back to ResetState;
//   - a closed or rejected appeal closed more than ClosedAge ago is
//     anonymized: its names, city, address, authority, description, phone,
//     e-mail, the person's Telegram ids and the search tokens are cleared;
//     its files are deleted; the texts and files of its thread entries are
//     cleared, but for assignments and referrals, which name staff and
//     partner bodies; the notes of its referrals are cleared and the
//     messages to the person its thread links emptied. Status, category,
//     citizenship, country, language and dates stay, so the statistics do
//     not change. Each anonymization is written to the audit log;
//   - processed update ids older than UpdatesAge are deleted;
//   - outbox messages sent or blocked more than DeliveryAge ago are deleted,
//     or emptied when a thread entry links them.
//
// Returns EINVALID for a policy with a duration that is not positive.
func (s *Store) RunRetention(ctx context.Context, p RetentionPolicy, mode RetentionMode) (RetentionReport, error) {
	if err := p.check(); err != nil {
		return RetentionReport{}, fmt.Errorf("store: retention: %w", err)
	}
	begin := time.Now()
	var rep RetentionReport
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rep = RetentionReport{DryRun: mode == RetentionDryRun}
		if mode == RetentionDaily {
			var locked, recent bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, retentionLockKey).Scan(&locked); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if !locked {
				return nil // another instance is running it
			}
			// Read after the lock: a run that just ended is committed and seen.
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM retention_runs
				WHERE ran_at > now() - $1::bigint * interval '1 microsecond')`, p.MinInterval.Microseconds()).Scan(&recent); err != nil {
				return fmt.Errorf("last run: %w", err)
			}
			if recent {
				return nil
			}
		} else if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, retentionLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		rep.Ran = true
		if err := s.resetDrafts(ctx, tx, p, &rep); err != nil {
			return err
		}
		if err := anonymizeAppeals(ctx, tx, p, &rep); err != nil {
			return err
		}
		if err := pruneDelivery(ctx, tx, p, &rep); err != nil {
			return err
		}
		if mode == RetentionDryRun {
			return errDryRun
		}
		_, err := tx.Exec(ctx, `INSERT INTO retention_runs (forced, drafts_reset, appeals_anonymized, updates_pruned,
				outbox_deleted, outbox_blanked) VALUES ($1, $2, $3, $4, $5, $6)`,
			mode == RetentionNow, rep.DraftsReset, len(rep.Anonymized), rep.UpdatesPruned, rep.OutboxDeleted, rep.OutboxBlanked)
		if err != nil {
			return fmt.Errorf("record run: %w", err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return RetentionReport{}, fmt.Errorf("store: retention: %w", err)
	}
	if rep.Ran {
		// Counts only: what was removed must not reach the logs.
		s.logger.Info("store: retention", "dry_run", rep.DryRun, "drafts_reset", rep.DraftsReset,
			"appeals_anonymized", len(rep.Anonymized), "updates_pruned", rep.UpdatesPruned,
			"outbox_deleted", rep.OutboxDeleted, "outbox_blanked", rep.OutboxBlanked, "duration", time.Since(begin))
	}
	return rep, nil
}

// resetDrafts drops the drafts of sessions unchanged for p.DraftAge. The
// draft is inside the session's sealed JSON, so the stale sessions are read
// and opened here: first without locks, to find the few with a draft among
// the many idle ones, then those few again, locked. A session being applied
// right now is locked by its update and skipped (it is not abandoned), and
// one applied in between is no longer stale.
func (s *Store) resetDrafts(ctx context.Context, tx pgx.Tx, p RetentionPolicy, rep *RetentionReport) error {
	const stale = `SELECT chat_id, user_id, data, version FROM sessions
		WHERE updated_at < now() - $1::bigint * interval '1 microsecond'`
	candidates, err := s.sessionsWithDrafts(ctx, tx, stale, p.DraftAge.Microseconds())
	if err != nil || len(candidates) == 0 {
		return err
	}
	chats := make([]int64, len(candidates))
	for i, c := range candidates {
		chats[i] = c.ChatID
	}
	abandoned, err := s.sessionsWithDrafts(ctx, tx, stale+` AND chat_id = ANY($2) FOR UPDATE SKIP LOCKED`,
		p.DraftAge.Microseconds(), chats)
	if err != nil {
		return err
	}
	if len(abandoned) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, sess := range abandoned {
		// What the dialog kept of the appeal goes with it; the language
		// stays, so the person comes back to the menu in it.
		sess.Draft, sess.Return, sess.Resume, sess.Replace = nil, "", "", false
		sess.Preset, sess.Batch, sess.Cursor = "", "", ""
		sess.State = p.ResetState
		if sess.Lang == "" {
			sess.State = ""
		}
		sess.Version++
		data, err := json.Marshal(sess)
		if err == nil {
			data, err = s.sealJSON(data)
		}
		if err != nil {
			return fmt.Errorf("encode session of chat %d: %w", sess.ChatID, err)
		}
		b.Queue(`UPDATE sessions SET state = $2, data = $3, version = $4, updated_at = now() WHERE chat_id = $1`,
			sess.ChatID, sess.State, data, sess.Version)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("reset abandoned drafts: %w", err)
	}
	rep.DraftsReset = len(abandoned)
	return nil
}

// sessionsWithDrafts runs a query of sessions (chat_id, user_id, data,
// version) and returns those holding a draft.
func (s *Store) sessionsWithDrafts(ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]migrantbot.Session, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("find abandoned drafts: %w", err)
	}
	defer rows.Close()
	var out []migrantbot.Session
	for rows.Next() {
		var (
			chatID, userID, version int64
			data                    []byte
		)
		if err := rows.Scan(&chatID, &userID, &data, &version); err != nil {
			return nil, fmt.Errorf("find abandoned drafts: %w", err)
		}
		session, err := s.decodeSession(chatID, userID, data, version)
		if err != nil {
			return nil, fmt.Errorf("find abandoned drafts: chat %d: %w", chatID, err)
		}
		if session.Draft != nil {
			out = append(out, session)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find abandoned drafts: %w", err)
	}
	return out, nil
}

// anonymizeAppeals anonymizes the closed and rejected appeals closed more
// than p.ClosedAge ago, and not yet anonymized.
func anonymizeAppeals(ctx context.Context, tx pgx.Tx, p RetentionPolicy, rep *RetentionReport) error {
	rows, err := tx.Query(ctx, `WITH due AS (
			SELECT id FROM appeals
			WHERE anonymized_at IS NULL AND closed_at IS NOT NULL
				AND closed_at < now() - $1::bigint * interval '1 microsecond'
				AND status IN ('`+string(migrantbot.StatusClosed)+`', '`+string(migrantbot.StatusRejected)+`')
			ORDER BY id
			FOR UPDATE)
		UPDATE appeals a SET surname = '', first_name = '', patronymic = '', city = '', address = '',
			authority = '', description = '', phone = '', email = '', user_id = 0, chat_id = 0,
			search = ''::tsvector, anonymized_at = now(), updated_at = now()
		FROM due WHERE a.id = due.id
		RETURNING a.id, a.reference`, p.ClosedAge.Microseconds())
	if err != nil {
		return fmt.Errorf("anonymize appeals: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var (
			id  int64
			ref string
		)
		if err := rows.Scan(&id, &ref); err != nil {
			rows.Close()
			return fmt.Errorf("anonymize appeals: %w", err)
		}
		ids = append(ids, id)
		rep.Anonymized = append(rep.Anonymized, ref)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("anonymize appeals: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM attachments WHERE appeal_id = ANY($1)`, ids)
	// An assignment's text names the staff member and a referral's the
	// partner body, as the referral itself does: neither is the person.
	b.Queue(`UPDATE thread_entries SET text = '', attachment = NULL
		WHERE appeal_id = ANY($1) AND kind NOT IN ('`+migrantbot.EntryAssign+`', '`+migrantbot.EntryReferral+`')
			AND (text <> '' OR attachment IS NOT NULL)`, ids)
	b.Queue(`UPDATE referrals SET note = '' WHERE appeal_id = ANY($1) AND note <> ''`, ids)
	// The messages to the person carried replies and reasons. One still
	// waiting after years is never to be sent: emptied, it must not be due.
	b.Queue(`UPDATE outbox SET payload = '{}',
			next_attempt_at = CASE WHEN sent_at IS NULL AND blocked_at IS NULL THEN 'infinity' ELSE next_attempt_at END
		WHERE id IN (SELECT outbox_id FROM thread_entries WHERE appeal_id = ANY($1) AND outbox_id IS NOT NULL)
			AND payload <> '{}'`, ids)
	b.Queue(`INSERT INTO audit_log (actor, action, target, detail)
		SELECT 'system', 'appeal.anonymize', ref, 'retention' FROM unnest($1::text[]) ref`, rep.Anonymized)
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for _, what := range []string{"delete files", "clear thread", "clear referral notes", "empty messages", "audit"} {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("anonymize appeals: %s: %w", what, err)
		}
		if what == "empty messages" {
			rep.OutboxBlanked += int(tag.RowsAffected())
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("anonymize appeals: %w", err)
	}
	return nil
}

// pruneDelivery deletes what only served delivery: old processed update ids
// and old delivered messages, or the text of those a thread entry links.
func pruneDelivery(ctx context.Context, tx pgx.Tx, p RetentionPolicy, rep *RetentionReport) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM processed_updates WHERE processed_at < now() - $1::bigint * interval '1 microsecond'`,
		p.UpdatesAge.Microseconds())
	const old = `coalesce(sent_at, blocked_at) < now() - $1::bigint * interval '1 microsecond'`
	b.Queue(`DELETE FROM outbox o WHERE `+old+`
		AND NOT EXISTS (SELECT 1 FROM thread_entries t WHERE t.outbox_id = o.id)`, p.DeliveryAge.Microseconds())
	// Those left are linked by a thread entry, which shows their delivery
	// state; the entry keeps the text staff wrote for as long as the appeal
	// keeps it.
	b.Queue(`UPDATE outbox SET payload = '{}' WHERE `+old+` AND payload <> '{}'`, p.DeliveryAge.Microseconds())
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	for _, n := range []*int{&rep.UpdatesPruned, &rep.OutboxDeleted, &rep.OutboxBlanked} {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("prune delivery records: %w", err)
		}
		*n += int(tag.RowsAffected())
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("prune delivery records: %w", err)
	}
	return nil
}
