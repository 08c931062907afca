package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"migrantbot"
)

// querier is what both a pool and a transaction can run.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Appeal returns the appeal with the given reference, with its attachments
// in the order they were added. Returns ENOTFOUND if there is none.
func (s *Store) Appeal(ctx context.Context, reference string) (migrantbot.Appeal, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT reference, user_id, chat_id, language, status, consent_at, consent_version,
			surname, first_name, patronymic, citizenship, country, city, address,
			category, authority, occurred, over_one_year, description, phone, phone_shared, email, submitted_at
		FROM appeals WHERE reference = $1`, reference)
	b.Queue(`SELECT t.file_id, t.file_unique_id, t.kind, t.size, t.file_name, t.mime_type, t.caption, t.media_group_id
		FROM attachments t JOIN appeals a ON a.id = t.appeal_id
		WHERE a.reference = $1 ORDER BY t.position, t.id`, reference)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()

	var (
		a         migrantbot.Appeal
		status    string
		consentAt *time.Time
	)
	err := br.QueryRow().Scan(&a.Reference, &a.UserID, &a.ChatID, &a.Language, &status, &consentAt, &a.ConsentVersion,
		&a.Surname, &a.FirstName, &a.Patronymic, &a.Citizenship, &a.Country, &a.City, &a.Address,
		&a.Category, &a.Authority, &a.When, &a.OverOneYear, &a.Description, &a.Phone, &a.PhoneShared, &a.Email, &a.SubmittedAt)
	if err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: %w", reference, notFound(err, "no appeal %s", reference))
	}
	a.Status = migrantbot.Status(status)
	if consentAt != nil {
		a.ConsentAt = *consentAt
	}
	rows, err := br.Query()
	if err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: attachments: %w", reference, err)
	}
	a.Attachments, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.Attachment, error) {
		var f migrantbot.Attachment
		err := row.Scan(&f.FileID, &f.FileUniqueID, &f.Kind, &f.Size, &f.FileName, &f.MimeType, &f.Caption, &f.MediaGroupID)
		return f, err
	})
	if err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: attachments: %w", reference, err)
	}
	if len(a.Attachments) == 0 {
		a.Attachments = nil
	}
	if err := br.Close(); err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: %w", reference, err)
	}
	return a, nil
}

// AppealsOf lists the appeals of a person, newest first. A person without
// appeals gets an empty list.
func (s *Store) AppealsOf(ctx context.Context, userID int64) ([]migrantbot.AppealSummary, error) {
	return appealsOf(ctx, s.pool, userID)
}

func appealsOf(ctx context.Context, q querier, userID int64) ([]migrantbot.AppealSummary, error) {
	rows, err := q.Query(ctx, `SELECT reference, category, status, submitted_at FROM appeals
		WHERE user_id = $1 ORDER BY submitted_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: appeals of user %d: %w", userID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.AppealSummary, error) {
		var (
			a      migrantbot.AppealSummary
			status string
		)
		err := row.Scan(&a.Reference, &a.Category, &status, &a.SubmittedAt)
		a.Status = migrantbot.Status(status)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: appeals of user %d: %w", userID, err)
	}
	return list, nil
}
