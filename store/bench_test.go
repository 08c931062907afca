package store_test

import (
	"context"
	"testing"

	"migrantbot"
	"migrantbot/store/storetest"
)

// BenchmarkApply measures one update's unit of work with a trivial step: a
// state change alone, and a state change with one outgoing message.
func BenchmarkApply(b *testing.B) {
	for _, bc := range []struct {
		name     string
		messages []migrantbot.Message
	}{
		{"session", nil},
		{"session+message", []migrantbot.Message{{Text: "Choose a language"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := storetest.NewStore(b)
			ctx := context.Background()
			step := func(sess migrantbot.Session, _ migrantbot.Records) (migrantbot.Turn, error) {
				sess.State = "menu"
				sess.Lang = "en"
				return migrantbot.Turn{Session: sess, Messages: bc.messages}, nil
			}
			var id int64
			for b.Loop() {
				id++
				if _, err := s.Apply(ctx, migrantbot.Update{ID: id, ChatID: 1 + id%100, UserID: 1 + id%100}, step); err != nil {
					b.Fatalf("Apply: %v", err)
				}
			}
		})
	}
}
