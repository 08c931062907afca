// Package termchat lets a developer talk to the bot in a terminal as a migrant
// would on Telegram: the bot's messages are printed as plain text and its
// buttons as numbered choices. It goes through the same dialogs and the same
// store as Telegram, so what is filed here is in the database afterwards.
package termchat

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"migrantbot"
)

// Sent records that an outbox message was shown; the store's Outbox implements it.
type Sent interface {
	MarkSent(ctx context.Context, id int64) error
}

// Inbox is the outbox seen from the terminal person's side: messages for
// their chat written outside the dialog, such as the office's replies.
type Inbox interface {
	Sent
	DueFor(ctx context.Context, chatID int64, limit int) ([]migrantbot.Outgoing, error)
}

// Options configure a terminal chat.
type Options struct {
	ChatID       int64  // the chat and user id the terminal person has
	LanguageCode string // what Telegram would report, e.g. from $LANG
	// Inbox, when set, is checked every PollEvery for messages the office
	// sent to the person, which are then shown as they arrive.
	Inbox     Inbox
	PollEvery time.Duration
}

// choice is a numbered button on screen.
type choice struct {
	data      string
	messageID int
	contact   bool
}

// Chat is one terminal conversation.
type Chat struct {
	mu      sync.Mutex // the dialog and the inbox both print
	handle  migrantbot.HandleFunc
	sent    Sent
	out     io.Writer
	opt     Options
	choices []choice
	nextID  int
	file    int
}

// Run talks with the person at in/out until in ends or ctx is done.
func Run(ctx context.Context, in io.Reader, out io.Writer, handle migrantbot.HandleFunc, sent Sent, opt Options) error {
	c := &Chat{handle: handle, sent: sent, out: out, opt: opt}
	fmt.Fprintln(out, `Terminal chat: you are a migrant writing to the bot.
Type a number to press a button, text to answer, /help for commands,
":photo caption" or ":file name.pdf" to send a file, ":sticker" for a sticker, Ctrl-D to quit.`)
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := c.send(ctx, migrantbot.Input{Kind: migrantbot.InputCommand, Command: "start"}); err != nil {
		return err
	}
	if opt.Inbox != nil {
		inboxErr := make(chan error, 1)
		ctx, cancel := context.WithCancel(ctx)
		defer func() {
			cancel()
			<-inboxErr
		}()
		go func() { inboxErr <- c.readInbox(ctx) }()
	}
	for {
		c.mu.Lock()
		fmt.Fprint(out, "> ")
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return nil
		case line, ok := <-lines:
			if !ok {
				fmt.Fprintln(out)
				return nil
			}
			c.mu.Lock()
			in, ok, err := c.input(line)
			c.mu.Unlock()
			if err != nil {
				fmt.Fprintln(out, err)
				continue
			}
			if !ok {
				continue
			}
			if err := c.send(ctx, in); err != nil {
				return err
			}
		}
	}
}

// input turns a typed line into what a Telegram person would have sent.
func (c *Chat) input(line string) (migrantbot.Input, bool, error) {
	line = strings.TrimSpace(line)
	in := migrantbot.Input{Kind: migrantbot.InputText, Text: line}
	switch {
	case line == "":
		return in, false, nil
	case strings.HasPrefix(line, "/"):
		name, rest, _ := strings.Cut(line[1:], " ")
		name, _, _ = strings.Cut(name, "@")
		return migrantbot.Input{Kind: migrantbot.InputCommand, Command: strings.ToLower(name), Text: rest}, true, nil
	case strings.HasPrefix(line, ":photo"), strings.HasPrefix(line, ":file"):
		c.file++
		kind, caption, _ := strings.Cut(strings.TrimPrefix(line, ":"), " ")
		f := &migrantbot.Attachment{FileID: fmt.Sprintf("local-%d", c.file), FileUniqueID: fmt.Sprintf("local-%d-%d", c.opt.ChatID, c.file), Size: 1024}
		if kind == "photo" {
			f.Kind, f.Caption = "photo", caption
		} else {
			f.Kind, f.FileName = "document", caption
		}
		return migrantbot.Input{Kind: migrantbot.InputFile, File: f, Text: f.Caption}, true, nil
	case line == ":sticker" || line == ":voice" || line == ":location":
		return migrantbot.Input{Kind: migrantbot.InputUnsupported}, true, nil
	}
	if n, err := strconv.Atoi(line); err == nil && len(c.choices) > 0 {
		if n < 1 || n > len(c.choices) {
			return in, false, fmt.Errorf("(choose a number from 1 to %d)", len(c.choices))
		}
		ch := c.choices[n-1]
		if ch.contact {
			return in, false, fmt.Errorf("(in Telegram this shares your account's number; here, type it: +994...)")
		}
		return migrantbot.Input{Kind: migrantbot.InputButton, Data: ch.data, MessageID: ch.messageID}, true, nil
	}
	return in, true, nil
}

// readInbox shows the office's messages to the person as they arrive.
func (c *Chat) readInbox(ctx context.Context) error {
	every := c.opt.PollEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		due, err := c.opt.Inbox.DueFor(ctx, c.opt.ChatID, 20)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			fmt.Fprintf(c.out, "\n(could not read new messages: %v)\n> ", err)
			continue
		}
		if len(due) == 0 {
			continue
		}
		c.mu.Lock()
		for _, o := range due {
			c.show(o.Message)
			if err := c.sent.MarkSent(ctx, o.ID); err != nil && ctx.Err() == nil {
				fmt.Fprintf(c.out, "(could not mark a message shown: %v)\n", err)
			}
		}
		fmt.Fprint(c.out, "> ")
		c.mu.Unlock()
	}
}

// send applies one input and prints the answer.
func (c *Chat) send(ctx context.Context, in migrantbot.Input) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	in.Now = time.Now()
	in.LanguageCode = c.opt.LanguageCode
	h, err := c.handle(ctx, migrantbot.Update{ChatID: c.opt.ChatID, UserID: c.opt.ChatID}, in)
	if err != nil {
		return fmt.Errorf("termchat: handle input: %w", err)
	}
	c.choices = nil
	if h.Notice != "" {
		fmt.Fprintf(c.out, "  (%s)\n", h.Notice)
	}
	for _, o := range h.Outgoing {
		c.show(o.Message)
		if err := c.sent.MarkSent(ctx, o.ID); err != nil {
			return fmt.Errorf("termchat: mark message sent: %w", err)
		}
	}
	return nil
}

// show prints one message with its buttons numbered.
func (c *Chat) show(m migrantbot.Message) {
	c.nextID++
	id := c.nextID
	if m.EditMessageID != 0 {
		id = m.EditMessageID
	}
	fmt.Fprintf(c.out, "\n%s\n", Plain(m.Text))
	if d := m.Document; d != nil {
		// A terminal has no file to tap: the file is shown whole.
		fmt.Fprintf(c.out, "📎 %s (%d bytes)\n%s\n", d.FileName, len(d.Data), d.Data)
	}
	for _, row := range m.Buttons {
		var cells []string
		for _, b := range row {
			c.choices = append(c.choices, choice{data: b.Data, messageID: id})
			cells = append(cells, fmt.Sprintf("[%d] %s", len(c.choices), b.Text))
		}
		fmt.Fprintln(c.out, "  "+strings.Join(cells, "   "))
	}
	if m.ContactButton != "" {
		c.choices = append(c.choices, choice{contact: true})
		fmt.Fprintf(c.out, "  [%d] %s\n", len(c.choices), m.ContactButton)
	}
}

var tag = regexp.MustCompile(`</?[a-zA-Z][^>]*>`)

// Plain turns the bot's Telegram HTML into terminal text.
func Plain(s string) string {
	return html.UnescapeString(tag.ReplaceAllString(s, ""))
}
