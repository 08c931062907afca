//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"migrantbot/bot/telegramtest"
	"migrantbot/flows/flowstest"
	"migrantbot/store"
	"migrantbot/store/storetest"
)

// dialogRun is what the people of a fault test share: the double, the store
// to look at sessions with, and counters the test reads.
type dialogRun struct {
	tg *telegramtest.Server
	st *store.Store
	// deadline caps the run; a person also gives up when nobody at all got
	// an answer for stallLimit, which means the bot is stuck rather than slow.
	deadline   time.Time
	lastAnswer atomic.Int64 // unix nanoseconds of the latest answer to anyone
	// faults counts the faults (kills, outages) so far; a person whose
	// input was in flight during one was interrupted.
	faults      atomic.Int64
	progress    atomic.Int64 // answers received, by everyone
	interrupted atomic.Int64 // answers that came after a fault hit them
	// retryReads makes the test's own session reads try again while the
	// database is away, as the answer may arrive just before it goes.
	retryReads bool
	mu         sync.Mutex
	problems   []string
	confirmed  map[int64][]string // person -> distinct references they saw
}

func newDialogRun(tg *telegramtest.Server, st *store.Store, deadline time.Time) *dialogRun {
	r := &dialogRun{tg: tg, st: st, deadline: deadline, confirmed: map[int64][]string{}}
	r.lastAnswer.Store(time.Now().UnixNano())
	return r
}

// stallLimit is how long a run may go without a single answer before the
// people give up. Messages a killed process did not deliver go out 30 s
// after their commit (a minute after a claim by the outbox worker), so
// twice that is a hang, not a slow machine.
const stallLimit = 2 * time.Minute

// givenUp reports whether the people should stop waiting.
func (r *dialogRun) givenUp() bool {
	now := time.Now()
	return now.After(r.deadline) || now.Sub(time.Unix(0, r.lastAnswer.Load())) > stallLimit
}

func (r *dialogRun) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// appealDialog is the complete appeal every simulated person goes through.
var appealDialog = flowstest.AppealDialog()

// answered reports whether one of msgs is the answer step wants.
func answered(s flowstest.Step, msgs []telegramtest.Sent) bool {
	for _, m := range msgs {
		if s.Want == "AP-" && strings.Contains(m.Plain, "AP-") || m.HasButton(s.Want) {
			return true
		}
	}
	return false
}

// references returns the distinct appeal references in msgs.
func references(msgs []telegramtest.Sent) []string {
	var refs []string
	for _, m := range msgs {
		rest := m.Plain
		for {
			i := strings.Index(rest, "AP-")
			if i < 0 || len(rest) < i+14 {
				break
			}
			if ref := rest[i : i+14]; !slices.Contains(refs, ref) {
				refs = append(refs, ref)
			}
			rest = rest[i+14:]
		}
	}
	return refs
}

// converse takes person id through the whole appeal dialog as a patient
// person would: each input only after the answer to the previous one
// arrived, however long that takes, unless the bot is stuck (see givenUp). Telegram
// keeps an update the bot did not confirm and delivers it again, so an
// input lost to a fault is never sent twice. After each answer the
// session's state in the database must be the step the person sees.
func (r *dialogRun) converse(ctx context.Context, id int64, rng *rand.Rand) {
	u := telegramtest.User{ID: id, FirstName: "Test", LanguageCode: "en"}
	for i, s := range appealDialog {
		// A moment of thought keeps the people out of step with each other.
		time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		msgs := r.tg.Messages(id)
		before := len(msgs)
		faults := r.faults.Load()
		if s.Text != "" {
			r.tg.SendText(u, s.Text)
		} else {
			msgID := 0
			for k := len(msgs) - 1; k >= 0; k-- {
				if msgs[k].HasButton(s.Press) {
					msgID = msgs[k].MessageID
					break
				}
			}
			if msgID == 0 {
				r.problem("person %d, step %d: no button %q to press; bot said %q", id, i, s.Press, plain(msgs))
				return
			}
			r.tg.PressData(u, msgID, s.Press)
		}
		for {
			msgs = r.tg.Messages(id)
			if answered(s, msgs[before:]) {
				break
			}
			if r.givenUp() || ctx.Err() != nil {
				r.problem("person %d, step %d (%s%s): no answer (the bot is stuck or the run took too long); bot said since %q", id, i, s.Text, s.Press, plain(msgs[before:]))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		if r.faults.Load() != faults {
			r.interrupted.Add(1)
		}
		r.progress.Add(1)
		r.lastAnswer.Store(time.Now().UnixNano())
		sess, err := r.st.Session(ctx, id)
		for err != nil && r.retryReads && !r.givenUp() {
			time.Sleep(100 * time.Millisecond)
			sess, err = r.st.Session(ctx, id)
		}
		switch {
		case err != nil:
			r.problem("person %d, step %d: session: %v", id, i, err)
		case sess.State != s.State:
			r.problem("person %d, step %d: the person sees the %q question, the database says %q", id, i, s.State, sess.State)
		}
	}
	r.mu.Lock()
	r.confirmed[id] = references(r.tg.Messages(id))
	r.mu.Unlock()
}

// checkAppeals compares the appeals table with the confirmations the people
// saw and returns how many were lost and duplicated.
func (r *dialogRun) checkAppeals(tb testing.TB, people []int64) (confirmed, lost, duplicated int) {
	tb.Helper()
	ctx := context.Background()
	rows, err := r.st.Pool().Query(ctx, `SELECT reference, user_id FROM appeals`)
	if err != nil {
		tb.Fatalf("list appeals: %v", err)
	}
	byRef := map[string][]int64{}
	byUser := map[int64][]string{}
	for rows.Next() {
		var ref string
		var user int64
		if err := rows.Scan(&ref, &user); err != nil {
			tb.Fatalf("list appeals: %v", err)
		}
		byRef[ref] = append(byRef[ref], user)
		byUser[user] = append(byUser[user], ref)
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("list appeals: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range people {
		refs, finished := r.confirmed[id]
		if !finished {
			continue // reported by converse
		}
		if len(refs) != 1 {
			tb.Errorf("person %d saw %d references, want 1: %v", id, len(refs), refs)
		}
		for _, ref := range refs {
			confirmed++
			switch owners := byRef[ref]; {
			case len(owners) == 0:
				lost++
				tb.Errorf("appeal %s was confirmed to person %d but is not in the database", ref, id)
			case len(owners) > 1 || owners[0] != id:
				tb.Errorf("appeal %s confirmed to person %d belongs to %v", ref, id, owners)
			}
		}
		if mine := byUser[id]; len(mine) != 1 {
			tb.Errorf("person %d has %d appeals, want 1: %v", id, len(mine), mine)
		}
	}
	for user, refs := range byUser {
		if len(refs) > 1 {
			duplicated += len(refs) - 1
			tb.Errorf("user %d has %d appeals: %v", user, len(refs), refs)
		}
		if !slices.Contains(people, user) {
			tb.Errorf("appeal %v of an unknown user %d", refs, user)
		}
	}
	return confirmed, lost, duplicated
}

func (r *dialogRun) report(tb testing.TB) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.problems {
		if i == 20 {
			tb.Errorf("... and %d more problems", len(r.problems)-i)
			break
		}
		tb.Error(p)
	}
}

// checkTelegramRulesAfterCrashes is checkTelegramRules for a bot that was
// killed: an update handled but not yet confirmed to Telegram when serve
// died comes again, and the new process answers its callback query again,
// which Telegram refuses as too old. A killed process cannot know it had
// answered, and the refusal is harmless. Any other refusal, an answer to a
// query never answered before, or a query left unanswered is an error. It
// returns how many queries were answered again.
func checkTelegramRulesAfterCrashes(tb testing.TB, tg *telegramtest.Server) (again int) {
	tb.Helper()
	answered := map[string]bool{}
	for _, c := range tg.Calls("answerCallbackQuery") {
		id := c.Params["callback_query_id"]
		if c.OK() {
			answered[id] = true
			continue
		}
		if strings.Contains(c.Description, "query is too old") && answered[id] {
			again++
		}
	}
	for _, c := range tg.Rejected() {
		if c.Method == "answerCallbackQuery" && strings.Contains(c.Description, "query is too old") && answered[c.Params["callback_query_id"]] {
			continue
		}
		tb.Errorf("Telegram would refuse %s: %d %s", c.Method, c.Code, c.Description)
	}
	if un := tg.UnansweredCallbacks(); len(un) > 0 {
		tb.Errorf("unanswered callback queries: %v", un)
	}
	return again
}

// moduleRoot finds the directory of go.mod above the test's directory.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatalf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// buildBinary builds the migrantbot command into a temporary directory.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("the crash test builds the migrantbot binary and needs the go command on PATH: %v", err)
	}
	bin := filepath.Join(tb.TempDir(), "migrantbot")
	cmd := exec.Command(goTool, "build", "-o", bin, "./cmd/migrantbot")
	cmd.Dir = moduleRoot(tb)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveProcess is `migrantbot serve` as a separate process, to be killed.
type serveProcess struct {
	tb   testing.TB
	bin  string
	env  []string
	logs *syncBuffer

	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

func (p *serveProcess) start() {
	p.tb.Helper()
	cmd := exec.Command(p.bin, "serve")
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	// Should the test binary die, its serve must not poll on forever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.tb.Fatalf("start serve: %v", err)
	}
	p.starts++
	fmt.Fprintf(p.logs, "=== crash test: serve started (pid %d, start %d)\n", cmd.Process.Pid, p.starts)
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
}

// kill kills serve with SIGKILL and waits until it is gone, so that its
// database sessions are closed and their locks released.
func (p *serveProcess) kill() {
	if p.cmd == nil {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.tb.Errorf("kill serve: %v", err)
	}
	<-p.exited
	fmt.Fprintf(p.logs, "=== crash test: serve killed (pid %d)\n", p.cmd.Process.Pid)
	p.cmd = nil
}

// tail returns the last n bytes of the logs.
func tail(s string, n int) string {
	if len(s) > n {
		return "...\n" + s[len(s)-n:]
	}
	return s
}

// TestCrashesLoseNothing drives 200 people through complete appeals while
// `serve` is killed with SIGKILL at random moments and restarted. Every
// appeal confirmed to a person must exist exactly once, nobody may have two,
// and every interrupted dialog must go on at the question it was at.
func TestCrashesLoseNothing(t *testing.T) {
	const (
		people = 200
		kills  = 25
	)
	begin := time.Now()
	bin := buildBinary(t)
	tg := telegramtest.New(t, token)
	url := storetest.NewDatabase(t)
	st := openStore(t, url)
	srv := &serveProcess{tb: t, bin: bin, logs: &syncBuffer{}, env: []string{
		"DATABASE_URL=" + url, "TELEGRAM_BOT_TOKEN=" + token, "TELEGRAM_API_URL=" + tg.URL,
		"DATA_KEY=" + storetest.DataKey(t), "STAFF_ADDR=" + freeAddr(t), "TELEGRAM_CHAT_RATE=1000", "TELEGRAM_RATE=1000", "LOG_LEVEL=info",
		"PERSON_UPDATE_LIMIT=off",
	}}
	srv.start()
	t.Cleanup(srv.kill) // before the database is dropped: cleanups run last first

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := newDialogRun(tg, st, time.Now().Add(8*time.Minute))
	steps := int64(people * len(appealDialog))

	// The killer strikes when the dialogs have made random amounts of
	// progress, so the kills spread over the whole run whatever its speed,
	// and then a random moment later, to land in the middle of handling.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	at := make([]int64, kills)
	for i := range at {
		// Not in the last quarter: what a kill leaves undelivered goes out
		// 30 s later, which the remaining traffic then hides.
		at[i] = 20 + rng.Int64N(steps*3/4)
	}
	slices.Sort(at)
	killRNG := rand.New(rand.NewPCG(rng.Uint64(), 6))
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for _, n := range at {
			for run.progress.Load() < n {
				if ctx.Err() != nil {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Duration(killRNG.IntN(30)) * time.Millisecond)
			run.faults.Add(1)
			srv.kill()
			srv.start()
		}
	}()

	// All the people talk at the same time.
	ids := make([]int64, people)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = int64(500000 + i)
		personRNG := rand.New(rand.NewPCG(rng.Uint64(), uint64(i)))
		wg.Go(func() { run.converse(ctx, ids[i], personRNG) })
	}
	wg.Wait()
	cancel()
	<-killerDone

	run.report(t)
	confirmed, lost, duplicated := run.checkAppeals(t, ids)
	again := checkTelegramRulesAfterCrashes(t, tg)
	if got := run.faults.Load(); got < 20 {
		t.Errorf("serve was killed %d times, want at least 20", got)
	}
	t.Logf("%d people, %d kills (%d starts of serve), %d appeals confirmed, %d lost, %d duplicated, %d answers of %d came after a kill hit them, %d updates delivered again after a kill and recognised as done, %d callback queries answered again after a kill, in %v",
		people, run.faults.Load(), srv.starts, confirmed, lost, duplicated, run.interrupted.Load(), steps,
		strings.Count(srv.logs.String(), `"outcome":"duplicate"`), again, time.Since(begin).Round(time.Second))
	if t.Failed() {
		t.Logf("serve's logs:\n%s", tail(srv.logs.String(), 20000))
	}
}
