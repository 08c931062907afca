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
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// appealColumns are the columns of an Appeal, attachments aside, in the
// order scanAppeal reads them; the appeals table is aliased a.
const appealColumns = `a.reference, a.user_id, a.chat_id, a.language, a.status, a.consent_at, a.consent_version,
	a.surname, a.first_name, a.patronymic, a.citizenship, a.country, a.city, a.address,
	a.category, a.authority, a.occurred, a.over_one_year, a.description, a.phone, a.phone_shared, a.email, a.submitted_at,
	a.erased_at, a.anonymized_at`

// personalFields are the fields of an appeal stored sealed: the names,
// where the person is (city and address), whom they complain about, what
// happened, and how to reach them. Citizenship, country, category and the
// dates stay plain: the console filters and counts by them, and alone they
// identify nobody.
func personalFields(a *migrantbot.Appeal) []*string {
	return []*string{&a.Surname, &a.FirstName, &a.Patronymic, &a.City, &a.Address,
		&a.Authority, &a.Description, &a.Phone, &a.Email}
}

// scanAppeal reads the columns of appealColumns, then extra, and opens the
// personal fields.
func (s *Store) scanAppeal(row pgx.Row, extra ...any) (migrantbot.Appeal, error) {
	var (
		a         migrantbot.Appeal
		status    string
		consentAt *time.Time
		erasedAt  *time.Time
		anonAt    *time.Time
	)
	dest := append([]any{&a.Reference, &a.UserID, &a.ChatID, &a.Language, &status, &consentAt, &a.ConsentVersion,
		&a.Surname, &a.FirstName, &a.Patronymic, &a.Citizenship, &a.Country, &a.City, &a.Address,
		&a.Category, &a.Authority, &a.When, &a.OverOneYear, &a.Description, &a.Phone, &a.PhoneShared, &a.Email, &a.SubmittedAt,
		&erasedAt, &anonAt},
		extra...)
	if err := row.Scan(dest...); err != nil {
		return migrantbot.Appeal{}, err
	}
	a.Status = migrantbot.Status(status)
	if consentAt != nil {
		a.ConsentAt = *consentAt
	}
	if erasedAt != nil {
		a.ErasedAt = *erasedAt
	}
	if anonAt != nil {
		a.AnonymizedAt = *anonAt
	}
	if err := s.openAll(personalFields(&a)...); err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("appeal %s: %w", a.Reference, err)
	}
	return a, nil
}

// attachmentsSQL lists the attachments of the appeal with reference $1.
const attachmentsSQL = `SELECT t.file_id, t.file_unique_id, t.kind, t.size, t.file_name, t.mime_type, t.caption, t.media_group_id
	FROM attachments t JOIN appeals a ON a.id = t.appeal_id
	WHERE a.reference = $1 ORDER BY t.position, t.id`

// collectAttachments reads the rows of attachmentsSQL, opening the file
// names and captions; nil when none.
func (s *Store) collectAttachments(rows pgx.Rows) ([]migrantbot.Attachment, error) {
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (migrantbot.Attachment, error) {
		var f migrantbot.Attachment
		if err := row.Scan(&f.FileID, &f.FileUniqueID, &f.Kind, &f.Size, &f.FileName, &f.MimeType, &f.Caption, &f.MediaGroupID); err != nil {
			return f, err
		}
		return f, s.openAll(&f.FileName, &f.Caption)
	})
	if len(list) == 0 {
		list = nil
	}
	return list, err
}

// Appeal returns the appeal with the given reference, with its attachments
// in the order they were added. Returns ENOTFOUND if there is none.
func (s *Store) Appeal(ctx context.Context, reference string) (migrantbot.Appeal, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT `+appealColumns+` FROM appeals a WHERE a.reference = $1`, reference)
	b.Queue(attachmentsSQL, reference)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()

	a, err := s.scanAppeal(br.QueryRow())
	if err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: %w", reference, notFound(err, "no appeal %s", reference))
	}
	rows, err := br.Query()
	if err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: attachments: %w", reference, err)
	}
	if a.Attachments, err = s.collectAttachments(rows); err != nil {
		return migrantbot.Appeal{}, fmt.Errorf("store: appeal %s: attachments: %w", reference, err)
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
	// User id 0 is no person: it marks appeals unlinked by erasure or
	// retention.
	if userID == 0 {
		return nil, nil
	}
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
