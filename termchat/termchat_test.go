package termchat

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

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

// inbox is a fake outbox holding messages for the terminal's chat.
type inbox struct {
	sentLog
	mu  sync.Mutex
	due []migrantbot.Outgoing
}

func (b *inbox) DueFor(_ context.Context, chatID int64, limit int) ([]migrantbot.Outgoing, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []migrantbot.Outgoing
	for _, o := range b.due {
		if o.ChatID == chatID {
			out = append(out, o)
		}
	}
	b.due = nil
	return out, nil
}

// TestInboxShowsTheOfficesMessages checks that a reply written by staff
// appears in the terminal without the person typing anything.
func TestInboxShowsTheOfficesMessages(t *testing.T) {
	box := &inbox{due: []migrantbot.Outgoing{{ID: 9, ChatID: 5, Message: migrantbot.Message{Text: "Reply from the <b>office</b>"}}}}
	handle := func(context.Context, migrantbot.Update, migrantbot.Input) (migrantbot.Handled, error) {
		return migrantbot.Handled{}, nil
	}
	pr, pw := io.Pipe()
	out := &lockedBuilder{}
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), pr, out, handle, box, Options{ChatID: 5, Inbox: box, PollEvery: 10 * time.Millisecond})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "Reply from the office") {
		if time.Now().After(deadline) {
			t.Fatalf("the office's message was not shown:\n%s", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(box.ids) != 1 || box.ids[0] != 9 {
		t.Errorf("marked sent: %v, want [9]", box.ids)
	}
}

type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
