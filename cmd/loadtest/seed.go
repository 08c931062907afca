package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"migrantbot/sealed"
	"migrantbot/store"
)

// seedOpenDialogs creates n people with an open dialog, chats first to
// first+n-1, each a copy of the session of chat template, which a person
// took through the real bot to the surname question. The rows are written
// directly with COPY, as the store writes them (the migrantbot.Session as
// JSON, sealed with the data key, and the person's language in users):
// driving 100,000 people through four updates each would take minutes and
// measure nothing new.
func seedOpenDialogs(ctx context.Context, st *store.Store, keys *sealed.Keyring, template, first int64, n int) error {
	tpl, err := st.Session(ctx, template)
	if err != nil {
		return err
	}
	sessions := make([][]any, 0, n)
	users := make([][]any, 0, n)
	for i := range int64(n) {
		id := first + i
		s := tpl
		s.ChatID, s.UserID = id, id
		if tpl.Draft != nil {
			d := *tpl.Draft
			d.ChatID, d.UserID = id, id
			s.Draft = &d
		}
		doc, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("seed: encode session: %w", err)
		}
		if doc, err = keys.SealJSON(doc); err != nil {
			return fmt.Errorf("seed: seal session: %w", err)
		}
		sessions = append(sessions, []any{id, id, s.State, s.Lang, doc, s.Version})
		users = append(users, []any{id, id, s.Lang})
	}
	return pgx.BeginFunc(ctx, st.Pool(), func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"chat_id", "user_id", "state", "lang", "data", "version"}, pgx.CopyFromRows(sessions)); err != nil {
			return fmt.Errorf("seed: copy sessions: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"user_id", "chat_id", "language"}, pgx.CopyFromRows(users)); err != nil {
			return fmt.Errorf("seed: copy users: %w", err)
		}
		// The planner should know the tables' new size before the traffic.
		_, err := tx.Exec(ctx, "ANALYZE sessions, users")
		return err
	})
}
