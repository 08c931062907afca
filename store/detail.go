package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// AppealDetail returns everything the console shows on an appeal's page:
// the appeal with its attachments, its assignee, whether the person added
// news and whether they blocked the bot, the whole thread oldest first with
// the delivery state of every message to the person, and the referrals.
// Returns ENOTFOUND if there is no such appeal.
func (s *Store) AppealDetail(ctx context.Context, ref string) (migrantbot.AppealDetail, error) {
	d, err := s.loadDetail(ctx, s.pool, ref, 0, false)
	if err != nil {
		return migrantbot.AppealDetail{}, fmt.Errorf("store: appeal detail %s: %w", ref, err)
	}
	return d, nil
}

// AppealOf returns the appeal of the person with the part of its thread the
// person may see: status changes, replies and what they added themselves,
// without staff names, notes, referrals or assignee.
func (r *records) AppealOf(userID int64, reference string) (migrantbot.AppealDetail, error) {
	d, err := r.s.loadDetail(r.ctx, r.tx, reference, userID, true)
	if err != nil {
		err = fmt.Errorf("store: appeal %s of user %d: %w", reference, userID, err)
		if migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
			return migrantbot.AppealDetail{}, r.fail(err)
		}
		return migrantbot.AppealDetail{}, err
	}
	return d, nil
}

// deliverySQL tells the delivery state of the outbox row o, NULL when there
// is none.
const deliverySQL = `CASE WHEN o.id IS NULL THEN ''
		WHEN o.sent_at IS NOT NULL THEN '` + migrantbot.DeliverySent + `'
		WHEN o.blocked_at IS NOT NULL THEN '` + migrantbot.DeliveryBlocked + `'
		WHEN o.last_error <> '' THEN '` + migrantbot.DeliveryFailed + `'
		ELSE '` + migrantbot.DeliveryPending + `' END`

// loadDetail reads an appeal's page in one round trip. With person set it
// reads what the person may see of their own appeal: only when the appeal
// is userID's, and only the entries of the kinds shown to the person.
func (s *Store) loadDetail(ctx context.Context, q querier, ref string, userID int64, person bool) (migrantbot.AppealDetail, error) {
	owner := ""
	kinds := ""
	args := []any{ref}
	if person {
		// User id 0 marks appeals unlinked from their person: nobody's.
		owner = " AND a.user_id = $2 AND a.user_id <> 0"
		args = append(args, userID)
		kinds = ` AND t.kind IN ('` + migrantbot.EntryStatus + `', '` + migrantbot.EntryReply + `', '` + migrantbot.EntryMigrant + `')`
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+appealColumns+`, coalesce(a.assignee_id, 0), coalesce(s.email, ''), a.has_news,
			EXISTS (SELECT 1 FROM users u WHERE u.user_id = a.user_id AND u.blocked_at IS NOT NULL)
		FROM appeals a LEFT JOIN staff s ON s.id = a.assignee_id
		WHERE a.reference = $1`+owner, args...)
	b.Queue(attachmentsSQL, ref)
	b.Queue(`SELECT t.id, t.at, t.kind, coalesce(s.email, ''), t.text, t.status, t.attachment,
			`+deliverySQL+`, coalesce(o.last_error, '')
		FROM thread_entries t
		JOIN appeals a ON a.id = t.appeal_id
		LEFT JOIN staff s ON s.id = t.author_id
		LEFT JOIN outbox o ON o.id = t.outbox_id
		WHERE a.reference = $1`+owner+kinds+`
		ORDER BY t.id`, args...)
	if !person {
		b.Queue(`SELECT r.partner, r.name, r.referred_on, r.note, coalesce(s.email, ''), r.at
			FROM referrals r JOIN appeals a ON a.id = r.appeal_id LEFT JOIN staff s ON s.id = r.by_id
			WHERE a.reference = $1 ORDER BY r.id`, ref)
	}
	br := q.SendBatch(ctx, b)
	defer br.Close()

	var d migrantbot.AppealDetail
	var err error
	d.Appeal, err = s.scanAppeal(br.QueryRow(), &d.AssigneeID, &d.AssigneeEmail, &d.HasNews, &d.Blocked)
	if err != nil {
		return migrantbot.AppealDetail{}, notFound(err, "no appeal %s", ref)
	}
	rows, err := br.Query()
	if err != nil {
		return migrantbot.AppealDetail{}, fmt.Errorf("attachments: %w", err)
	}
	if d.Appeal.Attachments, err = s.collectAttachments(rows); err != nil {
		return migrantbot.AppealDetail{}, fmt.Errorf("attachments: %w", err)
	}
	if rows, err = br.Query(); err != nil {
		return migrantbot.AppealDetail{}, fmt.Errorf("thread: %w", err)
	}
	d.Thread, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.ThreadEntry, error) {
		var (
			e          migrantbot.ThreadEntry
			status     string
			attachment []byte
		)
		if err := row.Scan(&e.ID, &e.At, &e.Kind, &e.Author, &e.Text, &status, &attachment, &e.Delivery, &e.LastError); err != nil {
			return e, err
		}
		e.Status = migrantbot.Status(status)
		if err := s.openAll(&e.Text); err != nil {
			return e, fmt.Errorf("thread entry %d: %w", e.ID, err)
		}
		if attachment != nil {
			attachment, err := s.openJSON(attachment)
			if err != nil {
				return e, fmt.Errorf("attachment of thread entry %d: %w", e.ID, err)
			}
			e.Attachment = new(migrantbot.Attachment)
			if err := json.Unmarshal(attachment, e.Attachment); err != nil {
				return e, fmt.Errorf("decode attachment of thread entry %d: %w", e.ID, err)
			}
		}
		if person {
			e.Author = ""
		}
		return e, nil
	})
	if err != nil {
		return migrantbot.AppealDetail{}, fmt.Errorf("thread: %w", err)
	}
	if !person {
		if rows, err = br.Query(); err != nil {
			return migrantbot.AppealDetail{}, fmt.Errorf("referrals: %w", err)
		}
		d.Referrals, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.Referral, error) {
			var (
				r  migrantbot.Referral
				on time.Time
			)
			if err := row.Scan(&r.Partner, &r.Name, &on, &r.Note, &r.By, &r.At); err != nil {
				return r, err
			}
			r.Date = on
			return r, s.openAll(&r.Name, &r.Note)
		})
		if err != nil {
			return migrantbot.AppealDetail{}, fmt.Errorf("referrals: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return migrantbot.AppealDetail{}, err
	}
	if person {
		// What staff do with the appeal is theirs; the person sees the
		// appeal, its status and the messages.
		d.AssigneeID, d.AssigneeEmail, d.HasNews = 0, "", false
	}
	return d, nil
}
