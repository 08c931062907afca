package store_test

import (
	"testing"

	"migrantbot"
	"migrantbot/store/storetest"
)

func TestReadsOfMissingRows(t *testing.T) {
	s := storetest.NewStore(t)
	ctx := t.Context()
	tests := []struct {
		name string
		read func() error
	}{
		{"Appeal", func() error { _, err := s.Appeal(ctx, "AP-2026-999999"); return err }},
		{"Session", func() error { _, err := s.Session(ctx, 123456); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.read(); migrantbot.ErrorCode(err) != migrantbot.ENOTFOUND {
				t.Errorf("got %v, want ENOTFOUND", err)
			}
		})
	}
	list, err := s.AppealsOf(ctx, 123456)
	if err != nil || len(list) != 0 {
		t.Errorf("AppealsOf of a person without appeals: got %v, %v; want an empty list", list, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
