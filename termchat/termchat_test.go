package termchat

import (
	"context"
	"strings"
	"testing"

	"migrantbot"
)

func TestPlain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<b>Main menu</b>", "Main menu"},
		{"a &lt;b&gt; &amp; c", "a <b> & c"},
		{`<a href="https://e-gov.az">e-gov.az</a>`, "e-gov.az"},
		{"1 < 2", "1 < 2"},
	}
	for _, tc := range tests {
		if got := Plain(tc.in); got != tc.want {
			t.Errorf("Plain(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

type sentLog struct{ ids []int64 }

func (s *sentLog) MarkSent(_ context.Context, id int64) error {
	s.ids = append(s.ids, id)
	return nil
}

// TestRun checks that typed lines become the inputs a Telegram person sends.
func TestRun(t *testing.T) {
	var got []migrantbot.Input
	handle := func(_ context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		if u.ChatID != 5 || u.ID != 0 {
			t.Errorf("update %+v", u)
		}
		got = append(got, in)
		msg := migrantbot.Message{Text: "<b>Q</b>", Buttons: [][]migrantbot.Button{{{Text: "Yes", Data: "a:x:yes"}, {Text: "No", Data: "a:x:no"}}}}
		return migrantbot.Handled{Outgoing: []migrantbot.Outgoing{{ID: int64(len(got)), Message: msg}}}, nil
	}
	var out strings.Builder
	sent := &sentLog{}
	in := strings.NewReader("2\n9\nhello\n/Help@bot\n:photo receipt\n:sticker\n\n")
	if err := Run(context.Background(), in, &out, handle, sent, Options{ChatID: 5, LanguageCode: "ru"}); err != nil {
		t.Fatal(err)
	}
	want := []migrantbot.Input{
		{Kind: migrantbot.InputCommand, Command: "start"},
		{Kind: migrantbot.InputButton, Data: "a:x:no", MessageID: 1},
		{Kind: migrantbot.InputText, Text: "hello"},
		{Kind: migrantbot.InputCommand, Command: "help"},
		{Kind: migrantbot.InputFile, Text: "receipt"},
		{Kind: migrantbot.InputUnsupported},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d inputs, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.Command != w.Command || g.Data != w.Data || g.Text != w.Text || g.LanguageCode != "ru" {
			t.Errorf("input %d: got %+v, want %+v", i, g, w)
		}
	}
	if f := got[4].File; f == nil || f.Kind != "photo" || f.Caption != "receipt" {
		t.Errorf("photo: %+v", got[4].File)
	}
	if !strings.Contains(out.String(), "[2] No") || !strings.Contains(out.String(), "choose a number from 1 to 2") {
		t.Errorf("output:\n%s", out.String())
	}
	if len(sent.ids) != len(want) {
		t.Errorf("marked %d messages sent, want %d", len(sent.ids), len(want))
	}
}
