package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"migrantbot"
	"migrantbot/sealed"
)

// firstDeliveryGrace is how long a new outbox message is left to the caller,
// who delivers it right after the commit, before the outbox worker may claim
// it; the worker only picks it up if that first delivery never reports back.
const firstDeliveryGrace = 30 * time.Second

// Apply is the unit of work of one update. In one transaction it locks the
// session of u.ChatID (creating it when new), records u.ID as processed, runs
// step on the session, and saves the new session, the person's language, the
// submitted appeal with its attachments, the follow-ups the person added to
// their appeals (thread entries that mark the appeal as having news), and
// the turn's messages and its messages to other chats (into the outbox). The session lock serializes the updates of one chat across all
// instances; different chats proceed in parallel.
//
// An update whose id was applied before runs nothing and returns an error
// wrapping migrantbot.ErrDuplicate (code EDUPLICATE). When step fails nothing
// is saved, the update id included, so the update can be retried; the error is
// returned wrapped. An appeal whose reference is taken returns ECONFLICT; a
// follow-up to an appeal that is not the person's, or one with neither text
// nor file, returns EINVALID, and nothing is saved either.
func (s *Store) Apply(ctx context.Context, u migrantbot.Update, step migrantbot.StepFunc) (migrantbot.Handled, error) {
	begin := time.Now()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return migrantbot.Handled{}, fmt.Errorf("store: apply update %d of chat %d: %w", u.ID, u.ChatID, err)
	}
	// A connection released inside a transaction (a panic in the step) is
	// closed by the pool, never reused: the server rolls it back.
	defer conn.Release()
	handled, state, err := s.apply(ctx, conn.Conn(), u, step)
	if err != nil {
		s.rollback(ctx, conn.Conn())
		if errors.Is(err, migrantbot.ErrDuplicate) {
			s.logger.Info("store: update already applied", "chat", u.ChatID, "update", u.ID)
		}
		// Data PostgreSQL refuses (class 22, such as a NUL character) fails the
		// same way every time: it is refused, not retried for ever.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
			err = migrantbot.Errorf(migrantbot.EINVALID, "data refused by the database (%s)", pgErr.Code)
		}
		return migrantbot.Handled{}, fmt.Errorf("store: apply update %d of chat %d: %w", u.ID, u.ChatID, err)
	}
	s.logger.Debug("store: update applied", "chat", u.ChatID, "update", u.ID, "state", state,
		"messages", len(handled.Outgoing), "duration", time.Since(begin))
	return handled, nil
}

// apply runs the unit of work on conn in two round trips besides what the
// step reads: BEGIN goes to the server with the statements that lock the
// session, and COMMIT with those that save the turn, each set pipelined in
// one batch. (pgx's own transactions would add a round trip for each.) On
// an error the transaction may be left open or failed; Apply rolls it back.
func (s *Store) apply(ctx context.Context, conn *pgx.Conn, u migrantbot.Update, step migrantbot.StepFunc) (migrantbot.Handled, string, error) {
	session, err := s.lockSession(ctx, conn, u)
	if err != nil {
		return migrantbot.Handled{}, "", err
	}
	rec := &records{ctx: ctx, tx: conn, s: s}
	turn, err := step(session, rec)
	if err != nil {
		return migrantbot.Handled{}, "", err
	}
	// A failed query aborts the transaction even if the step carried on
	// without the answer; committing would then fail with a vaguer error.
	if rec.err != nil {
		return migrantbot.Handled{}, "", rec.err
	}
	handled, err := s.saveTurn(ctx, conn, u, session, turn)
	return handled, turn.Session.State, err
}

// rollback ends a transaction an error left open on conn. When that fails
// too, the connection is closed, so that the pool does not hand it out in
// the middle of a transaction.
func (s *Store) rollback(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
		s.logger.Warn("store: roll back a failed update", "error", err.Error())
		_ = conn.Close(rctx)
	}
}

// dbtx is what the unit of work needs of a connection in a transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// lockSession begins the transaction, creates the session row of the chat
// if missing, locks it until the transaction ends, and records the update
// id. The four statements go to the server in one round trip.
func (s *Store) lockSession(ctx context.Context, tx dbtx, u migrantbot.Update) (migrantbot.Session, error) {
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`INSERT INTO sessions (chat_id, user_id) VALUES ($1, $2) ON CONFLICT (chat_id) DO NOTHING`, u.ChatID, u.UserID)
	b.Queue(`SELECT user_id, data, version FROM sessions WHERE chat_id = $1 FOR UPDATE`, u.ChatID)
	if u.ID != 0 {
		b.Queue(`INSERT INTO processed_updates (update_id, chat_id) VALUES ($1, $2) ON CONFLICT (update_id) DO NOTHING`, u.ID, u.ChatID)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()

	if _, err := br.Exec(); err != nil {
		return migrantbot.Session{}, fmt.Errorf("begin: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return migrantbot.Session{}, fmt.Errorf("create session: %w", err)
	}
	var (
		userID  int64
		data    []byte
		version int64
	)
	if err := br.QueryRow().Scan(&userID, &data, &version); err != nil {
		return migrantbot.Session{}, fmt.Errorf("lock session: %w", err)
	}
	if u.ID != 0 {
		tag, err := br.Exec()
		if err != nil {
			return migrantbot.Session{}, fmt.Errorf("record update: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return migrantbot.Session{}, migrantbot.ErrDuplicate
		}
	}
	if err := br.Close(); err != nil {
		return migrantbot.Session{}, fmt.Errorf("lock session: %w", err)
	}
	session, err := s.decodeSession(u.ChatID, userID, data, version)
	if errors.Is(err, sealed.ErrCorrupt) {
		// A damaged session would fail every update of the chat for good:
		// the person starts afresh instead (what it held cannot be read).
		s.logger.Error("store: session unreadable, starting it afresh", "chat", u.ChatID, "update", u.ID)
		session, err = migrantbot.Session{ChatID: u.ChatID, UserID: userID, Version: version}, nil
	}
	if err != nil {
		// Sealed under a key this instance lacks (DATA_KEY_PREVIOUS not
		// set): retried, since the configuration can be fixed.
		return migrantbot.Session{}, err
	}
	if session.UserID == 0 {
		session.UserID = u.UserID
	}
	return session, nil
}

// decodeSession builds a session from its row, whose data is sealed. The
// columns are authoritative for the chat and the version, whatever the JSON
// says.
func (s *Store) decodeSession(chatID, userID int64, data []byte, version int64) (migrantbot.Session, error) {
	data, err := s.openJSON(data)
	if err != nil {
		return migrantbot.Session{}, fmt.Errorf("decode session: %w", err)
	}
	var session migrantbot.Session
	if err := json.Unmarshal(data, &session); err != nil {
		return migrantbot.Session{}, fmt.Errorf("decode session: %w", err)
	}
	session.ChatID = chatID
	session.Version = version
	if session.UserID == 0 {
		session.UserID = userID
	}
	return session, nil
}

// saveTurn writes what the step decided: the session, the person's language,
// the submitted appeal, the follow-ups and the outbox messages, in one round
// trip. The session, the messages and the personal fields are sealed here,
// in memory: sealing adds microseconds, not round trips.
func (s *Store) saveTurn(ctx context.Context, tx dbtx, u migrantbot.Update, old migrantbot.Session, turn migrantbot.Turn) (migrantbot.Handled, error) {
	next := turn.Session
	// The step cannot move the session to another chat or rewrite history.
	next.ChatID = u.ChatID
	next.Version = old.Version + 1
	if next.UserID == 0 {
		next.UserID = old.UserID
	}
	data, err := json.Marshal(next)
	if err != nil {
		return migrantbot.Handled{}, fmt.Errorf("encode session: %w", err)
	}
	// The whole session is sealed, not only its draft: the last search
	// typed, a follow-up being written and the draft are all the person's
	// words.
	if data, err = s.sealJSON(data); err != nil {
		return migrantbot.Handled{}, fmt.Errorf("encode session: %w", err)
	}
	// The turn's messages go to the chat, then the others to theirs; all are
	// returned for delivery right after the commit.
	outgoing := make([]migrantbot.Outgoing, 0, len(turn.Messages)+len(turn.Others))
	for _, m := range turn.Messages {
		outgoing = append(outgoing, migrantbot.Outgoing{ChatID: u.ChatID, Message: m})
	}
	for _, o := range turn.Others {
		if o.ChatID == 0 {
			return migrantbot.Handled{}, migrantbot.Errorf(migrantbot.EINVALID, "message to another chat without a chat")
		}
		outgoing = append(outgoing, migrantbot.Outgoing{ChatID: o.ChatID, Message: o.Message})
	}
	payloads := make([][]byte, len(outgoing))
	for i, o := range outgoing {
		if payloads[i], err = json.Marshal(o.Message); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("encode message: %w", err)
		}
		if payloads[i], err = s.sealJSON(payloads[i]); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("encode message: %w", err)
		}
	}
	// A follow-up is only ever for an appeal of the person whose session
	// this is, whatever the step says.
	owner := old.UserID
	if owner == 0 {
		owner = next.UserID
	}
	followUps := make([][]byte, len(turn.FollowUps))
	followUpTexts := make([]string, len(turn.FollowUps))
	for i, f := range turn.FollowUps {
		if f.Text == "" && f.File == nil {
			return migrantbot.Handled{}, migrantbot.Errorf(migrantbot.EINVALID, "follow-up to %s has neither text nor file", f.Reference)
		}
		if f.File != nil {
			if followUps[i], err = json.Marshal(f.File); err != nil {
				return migrantbot.Handled{}, fmt.Errorf("encode follow-up file: %w", err)
			}
			if followUps[i], err = s.sealJSON(followUps[i]); err != nil {
				return migrantbot.Handled{}, fmt.Errorf("encode follow-up file: %w", err)
			}
		}
		if followUpTexts[i], err = s.seal(f.Text); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("encode follow-up: %w", err)
		}
	}

	b := &pgx.Batch{}
	b.Queue(`UPDATE sessions SET user_id = $2, state = $3, lang = $4, data = $5, version = $6, updated_at = now()
		WHERE chat_id = $1`, next.ChatID, next.UserID, next.State, next.Lang, data, next.Version)
	saveUser := next.Lang != "" && next.UserID != 0
	if saveUser {
		// The WHERE skips a write (and a dead row) when nothing changed, which
		// is the case for almost every update.
		// A person who writes to the bot has not blocked it (any more).
		b.Queue(`INSERT INTO users (user_id, chat_id, language) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET chat_id = EXCLUDED.chat_id, language = EXCLUDED.language,
				blocked_at = NULL, updated_at = now()
			WHERE users.chat_id <> EXCLUDED.chat_id OR users.language <> EXCLUDED.language OR users.blocked_at IS NOT NULL`,
			next.UserID, next.ChatID, next.Lang)
	}
	privacy := queuePrivacy(b, u, owner, turn)
	var appeal *migrantbot.Appeal
	if turn.Submit != nil {
		a := *turn.Submit
		if a.Reference == "" {
			return migrantbot.Handled{}, migrantbot.Errorf(migrantbot.EINVALID, "submitted appeal has no reference")
		}
		if a.UserID == 0 {
			a.UserID = next.UserID
		}
		if a.ChatID == 0 {
			a.ChatID = u.ChatID
		}
		if a.Language == "" {
			a.Language = next.Lang
		}
		appeal = &a
		if err := s.queueAppeal(b, appeal); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("submit appeal %s: %w", a.Reference, err)
		}
	}
	for i, f := range turn.FollowUps {
		b.Queue(`WITH a AS (
				UPDATE appeals SET has_news = true, updated_at = now() WHERE reference = $1 AND user_id = $2 RETURNING id)
			INSERT INTO thread_entries (appeal_id, kind, text, attachment)
			SELECT id, '`+migrantbot.EntryMigrant+`', $3, $4 FROM a RETURNING id`, f.Reference, owner, followUpTexts[i], followUps[i])
	}
	for i, p := range payloads {
		b.Queue(`INSERT INTO outbox (chat_id, payload, next_attempt_at) VALUES ($1, $2, now() + $3::bigint * interval '1 microsecond')
			RETURNING id`, outgoing[i].ChatID, p, firstDeliveryGrace.Microseconds())
	}

	// A plain dialog step commits without waiting for the disk: a crash of
	// the database server then costs at most a repeated question. A turn
	// that keeps something the person or the staff are told was kept waits
	// for it (measured with cmd/loadtest; see README, Performance). Queued
	// last, so the results above are read in order.
	quick := turn.Submit == nil && len(turn.FollowUps) == 0 && len(turn.Others) == 0 && turn.Consent == nil && !turn.Forget
	if quick {
		b.Queue(`SET LOCAL synchronous_commit = off`)
	}
	// COMMIT rides with the batch unless a result must be checked first: a
	// follow-up to an appeal that is not the person's inserts nothing
	// without an error, and must not be committed.
	commitInBatch := len(turn.FollowUps) == 0
	if commitInBatch {
		b.Queue(`COMMIT`)
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return migrantbot.Handled{}, fmt.Errorf("save session: %w", err)
	}
	if saveUser {
		if _, err := br.Exec(); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("save user: %w", err)
		}
	}
	for range privacy {
		if _, err := br.Exec(); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("save the person's privacy choices: %w", err)
		}
	}
	if appeal != nil {
		if _, err := br.Exec(); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "appeals_reference_key" {
				return migrantbot.Handled{}, migrantbot.Errorf(migrantbot.ECONFLICT, "appeal reference %s is taken", appeal.Reference)
			}
			return migrantbot.Handled{}, fmt.Errorf("submit appeal %s: %w", appeal.Reference, err)
		}
		for range appeal.Attachments {
			if _, err := br.Exec(); err != nil {
				return migrantbot.Handled{}, fmt.Errorf("submit appeal %s: attachment: %w", appeal.Reference, err)
			}
		}
	}
	for _, f := range turn.FollowUps {
		var id int64
		if err := br.QueryRow().Scan(&id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return migrantbot.Handled{}, migrantbot.Errorf(migrantbot.EINVALID, "appeal %s is not the person's", f.Reference)
			}
			return migrantbot.Handled{}, fmt.Errorf("add follow-up to %s: %w", f.Reference, err)
		}
	}
	handled := migrantbot.Handled{Notice: turn.Notice}
	for i := range outgoing {
		if err := br.QueryRow().Scan(&outgoing[i].ID); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("queue message: %w", err)
		}
	}
	if len(outgoing) > 0 {
		handled.Outgoing = outgoing
	}
	if quick {
		if _, err := br.Exec(); err != nil {
			return migrantbot.Handled{}, fmt.Errorf("save turn: %w", err)
		}
	}
	var commit pgconn.CommandTag
	if commitInBatch {
		commit, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err == nil && !commitInBatch {
		commit, err = tx.Exec(ctx, `COMMIT`)
	}
	// PostgreSQL answers COMMIT in a failed transaction with ROLLBACK and no
	// error: only the tag tells that nothing was saved.
	if err == nil && commit.String() != "COMMIT" {
		err = fmt.Errorf("the transaction ended with %q", commit.String())
	}
	if err != nil {
		return migrantbot.Handled{}, fmt.Errorf("save turn: commit: %w", err)
	}
	return handled, nil
}

// queueAppeal adds the statements that insert a submitted appeal and its
// attachments, with the personal fields sealed and the search tokens of
// the plain text. The appeal starts as new, submitted now.
func (s *Store) queueAppeal(b *pgx.Batch, a *migrantbot.Appeal) error {
	var consentAt *time.Time
	if !a.ConsentAt.IsZero() {
		consentAt = &a.ConsentAt
	}
	tokens := s.searchTokens(a.Surname, a.FirstName, a.Patronymic, a.Description)
	p := *a
	if err := s.sealAll(personalFields(&p)...); err != nil {
		return err
	}
	b.Queue(`INSERT INTO appeals (reference, user_id, chat_id, language, consent_at, consent_version,
			surname, first_name, patronymic, citizenship, country, city, address,
			category, authority, occurred, over_one_year, description, phone, phone_shared, email, search)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
			array_to_tsvector($22::text[]))`,
		a.Reference, a.UserID, a.ChatID, a.Language, consentAt, a.ConsentVersion,
		p.Surname, p.FirstName, p.Patronymic, a.Citizenship, a.Country, p.City, p.Address,
		a.Category, p.Authority, a.When, a.OverOneYear, p.Description, p.Phone, a.PhoneShared, p.Email, tokens)
	for i, f := range a.Attachments {
		fileName, caption := f.FileName, f.Caption
		if err := s.sealAll(&fileName, &caption); err != nil {
			return err
		}
		// A file sent twice is kept once, at its first position.
		b.Queue(`INSERT INTO attachments (appeal_id, position, file_id, file_unique_id, kind, size,
				file_name, mime_type, caption, media_group_id)
			VALUES ((SELECT id FROM appeals WHERE reference = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (appeal_id, file_unique_id) DO NOTHING`,
			a.Reference, i, f.FileID, f.FileUniqueID, f.Kind, f.Size, fileName, f.MimeType, caption, f.MediaGroupID)
	}
	return nil
}

// records gives a dialog step what it may read or reserve inside the
// update's transaction.
type records struct {
	ctx context.Context
	tx  dbtx
	s   *Store // for its keys
	// err is the first failed query: it aborted the transaction.
	err error
}

var _ migrantbot.Records = (*records)(nil)

func (r *records) fail(err error) error {
	if r.err == nil {
		r.err = err
	}
	return err
}

// NextReference reserves the next appeal reference, AP-<year>-<number>. The
// year is the database's. A reference reserved by a transaction that rolls
// back is not reused, which leaves a gap.
func (r *records) NextReference() (string, error) {
	var (
		year int
		n    int64
	)
	err := r.tx.QueryRow(r.ctx, `SELECT extract(year FROM now())::int, nextval('appeal_ref_seq')`).Scan(&year, &n)
	if err != nil {
		return "", r.fail(fmt.Errorf("store: reserve appeal reference: %w", err))
	}
	return fmt.Sprintf("AP-%d-%06d", year, n), nil
}

// AppealsOf lists the appeals of a person, newest first.
func (r *records) AppealsOf(userID int64) ([]migrantbot.AppealSummary, error) {
	list, err := appealsOf(r.ctx, r.tx, userID)
	if err != nil {
		return nil, r.fail(err)
	}
	return list, nil
}
