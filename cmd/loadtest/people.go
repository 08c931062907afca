package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"migrantbot/bot/telegramtest"
	"migrantbot/flows/flowstest"
)

// openDialogStep is where a seeded open dialog stands: consent given, the
// surname asked.
const openDialogStep = 4

// appealDialog is the complete appeal every simulated person goes through.
var appealDialog = flowstest.AppealDialog()

// answered reports whether one of msgs is the answer s waits for, and the
// appeal reference it shows, if any.
func answered(s flowstest.Step, msgs []telegramtest.Sent) (bool, string) {
	for _, m := range msgs {
		if s.Want == "AP-" {
			if i := strings.Index(m.Plain, "AP-"); i >= 0 && len(m.Plain) >= i+14 {
				return true, m.Plain[i : i+14]
			}
			continue
		}
		if m.HasButton(s.Want) {
			return true, ""
		}
	}
	return false, ""
}

// apiFront stands between the bot and the Bot API double. It forwards every
// call and, once the double has answered a message sent or edited in a
// chat, wakes the person of that chat. The people wait on a channel of
// their own rather than on the double's change signal, which wakes every
// waiter at every call: with hundreds of people waiting that would make the
// load command's own CPU use, on the machine the bot and PostgreSQL share,
// grow with the number of people.
type apiFront struct {
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	waiters map[int64]chan struct{}
}

func newAPIFront(target string) (*apiFront, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConns: 1000, MaxIdleConnsPerHost: 1000, IdleConnTimeout: time.Minute}
	// A long poll cut short when the bot stops is not worth a line; a
	// failure that matters shows in the bot's log and its outcomes.
	p.ErrorLog = log.New(io.Discard, "", 0)
	return &apiFront{proxy: p, waiters: map[int64]chan struct{}{}}, nil
}

func (f *apiFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var chat int64
	switch strings.ToLower(path.Base(r.URL.Path)) {
	case "sendmessage", "editmessagetext", "editmessagereplymarkup":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		chat = chatIDOf(r.Header.Get("Content-Type"), body)
	}
	f.proxy.ServeHTTP(w, r)
	if chat != 0 {
		f.wake(chat)
	}
}

// chatIDOf reads the chat_id of a Bot API call's body, form or JSON.
func chatIDOf(contentType string, body []byte) int64 {
	ct, _, _ := mime.ParseMediaType(contentType)
	var raw string
	if ct == "application/json" {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return 0
		}
		raw = strings.Trim(string(m["chat_id"]), `"`)
	} else {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return 0
		}
		raw = v.Get("chat_id")
	}
	var id int64
	fmt.Sscan(raw, &id)
	return id
}

// watch returns the channel that is signalled when the bot writes in chat.
func (f *apiFront) watch(chat int64) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := f.waiters[chat]
	if ch == nil {
		ch = make(chan struct{}, 1)
		f.waiters[chat] = ch
	}
	return ch
}

func (f *apiFront) unwatch(chat int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.waiters, chat)
}

func (f *apiFront) wake(chat int64) {
	f.mu.Lock()
	ch := f.waiters[chat]
	f.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default: // already signalled
		}
	}
}

// person is a simulated person going through the appeal dialog.
type person struct {
	u      telegramtest.User
	next   int // index in appealDialog of the next input
	wake   chan struct{}
	before int       // bot messages in the chat before the pending input
	sentAt time.Time // when the pending input was sent
	ref    string    // the reference of the confirmation
}

// driver sends the people's inputs to the double and waits for the answers.
type driver struct {
	tg      *telegramtest.Server
	front   *apiFront
	timeout time.Duration // longest wait for one answer

	e2e  histogram    // from an input sent to its answer at the double
	sent atomic.Int64 // inputs sent

	mu       sync.Mutex
	problems []string
	refs     map[int64][]string // person -> references seen
}

func newDriver(tg *telegramtest.Server, front *apiFront, timeout time.Duration) *driver {
	return &driver{tg: tg, front: front, timeout: timeout, refs: map[int64][]string{}}
}

func (d *driver) problem(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.problems = append(d.problems, fmt.Sprintf(format, args...))
}

func (d *driver) newPerson(id int64, from int) *person {
	return &person{u: telegramtest.User{ID: id, FirstName: "Test", LanguageCode: "en"}, next: from, wake: d.front.watch(id)}
}

// send sends p's next input. It fails only when a button to press is
// missing, which means the bot answered something else.
func (d *driver) send(p *person) error {
	s := appealDialog[p.next]
	msgs := d.tg.Messages(p.u.ID)
	p.before = len(msgs)
	// A signal left from an earlier answer must not count for this one.
	select {
	case <-p.wake:
	default:
	}
	p.sentAt = time.Now()
	if s.Text != "" {
		d.tg.SendText(p.u, s.Text)
	} else {
		msgID := 0
		for k := len(msgs) - 1; k >= 0 && msgID == 0; k-- {
			if msgs[k].HasButton(s.Press) {
				msgID = msgs[k].MessageID
			}
		}
		if msgID == 0 {
			return fmt.Errorf("person %d, step %d: no button %q to press", p.u.ID, p.next, s.Press)
		}
		d.tg.PressData(p.u, msgID, s.Press)
	}
	d.sent.Add(1)
	return nil
}

// await waits for the answer to p's pending input and moves p to its next
// input.
func (d *driver) await(ctx context.Context, p *person) error {
	s := appealDialog[p.next]
	deadline := time.NewTimer(d.timeout)
	defer deadline.Stop()
	for {
		msgs := d.tg.Messages(p.u.ID)
		if ok, ref := answered(s, msgs[min(p.before, len(msgs)):]); ok {
			d.e2e.add(time.Since(p.sentAt))
			if ref != "" {
				p.ref = ref
				d.mu.Lock()
				if !slices.Contains(d.refs[p.u.ID], ref) {
					d.refs[p.u.ID] = append(d.refs[p.u.ID], ref)
				}
				d.mu.Unlock()
			}
			p.next++
			return nil
		}
		select {
		case <-p.wake:
		case <-deadline.C:
			return fmt.Errorf("person %d, step %d (%s%s): no answer within %v", p.u.ID, p.next, s.Text, s.Press, d.timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *driver) done(p *person) bool { return p.next >= len(appealDialog) }

// converse takes p through the rest of the dialog as fast as the bot answers.
func (d *driver) converse(ctx context.Context, p *person) error {
	defer d.front.unwatch(p.u.ID)
	for !d.done(p) {
		if err := d.send(p); err != nil {
			return err
		}
		if err := d.await(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// closedLoop runs the people through the dialog from step from,
// concurrency of them at a time, each sending the next input as soon as the
// answer to the last one arrived.
func (d *driver) closedLoop(ctx context.Context, ids []int64, from, concurrency int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				if err := d.converse(ctx, d.newPerson(ids[i], from)); err != nil {
					d.problem("%v", err)
				}
			}
		})
	}
	wg.Wait()
}

// openLoop sends inputs at rate a second whatever the bot's speed: at each
// tick the next input of a person whose last answer has arrived, or, when
// none is waiting, the first input of a new person. So arrivals do not slow
// down when the bot does, and latency is measured from the moment an input
// was due. It returns how many ticks found nobody to send for (everyone
// started and waiting for an answer).
func (d *driver) openLoop(ctx context.Context, ids []int64, from int, rate float64) (missed int64) {
	ready := make(chan *person, len(ids))
	var wg sync.WaitGroup
	started, ticks := 0, int64(0)
	begin := time.Now()
	var finished atomic.Int64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for finished.Load() < int64(len(ids)) {
		select {
		case <-ctx.Done():
			wg.Wait()
			return missed
		case <-tick.C:
		}
		due := int64(time.Since(begin).Seconds() * rate)
		for ; ticks < due; ticks++ {
			var p *person
			select {
			case p = <-ready:
			default:
				if started == len(ids) {
					missed++
					continue
				}
				p = d.newPerson(ids[started], from)
				started++
			}
			if err := d.send(p); err != nil {
				d.problem("%v", err)
				d.front.unwatch(p.u.ID)
				finished.Add(1)
				continue
			}
			wg.Go(func() {
				if err := d.await(ctx, p); err != nil {
					d.problem("%v", err)
				} else if !d.done(p) {
					ready <- p
					return
				}
				d.front.unwatch(p.u.ID)
				finished.Add(1)
			})
		}
	}
	wg.Wait()
	return missed
}
