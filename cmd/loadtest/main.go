// Command loadtest is the benchmark of the bot: it drives simulated people
// through the complete appeal dialog against the Bot API double
// (bot/telegramtest) and a real PostgreSQL, through the real bot, the
// dialogs and the store, and in the same run measures what the machine's
// PostgreSQL can do with pgbench -N, printing both side by side.
//
//	go run ./cmd/loadtest -people 2000 -concurrency 16            # closed loop
//	go run ./cmd/loadtest -people 2000 -rate 400                  # open loop, 400 updates/s
//	go run ./cmd/loadtest -people 2000 -open-dialogs 100000       # memory with many open dialogs
//
// The bot runs in a process of its own (this binary started again with
// MIGRANTBOT_LOADTEST_ROLE=bot), wired as `migrantbot serve` wires it for
// long polling, so that its peak memory is exactly its own (VmHWM) and not
// the double's, which keeps every message of the run. It counts its
// database round trips with a pgx tracer and its handling latency itself,
// and reports them on request over a pipe.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"migrantbot/bot/telegramtest"
	"migrantbot/pglocal"
	"migrantbot/sealed"
	"migrantbot/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if os.Getenv(envRole) == "bot" {
		err = runBot(ctx, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	} else {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadtest: %v\n", err)
		os.Exit(1)
	}
}

// token is the bot token the double accepts; it is nobody's.
const token = "123456:LOADTEST-token"

// options are the command line of a run.
type options struct {
	people       int
	concurrency  int
	rate         float64
	openDialogs  int
	databaseURL  string
	pgbench      bool
	pgbenchTime  int
	pgbenchScale int
	fast         bool
	asyncCommit  bool
	botLog       string
	cpuProfile   string
	heapProfile  string
	logLevel     string
	answerWait   time.Duration
	asJSON       bool
}

func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.people, "people", 1000, "simulated people who each go through the complete appeal dialog")
	fs.IntVar(&o.concurrency, "concurrency", 16, "closed loop: people in dialog at once; also pgbench's -c")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: updates a second sent whatever the bot's speed (0: closed loop)")
	fs.IntVar(&o.openDialogs, "open-dialogs", 0, "first create this many people with an open dialog (at the surname question); the -people then resume theirs")
	fs.StringVar(&o.databaseURL, "database", getenv("LOADTEST_DATABASE_URL"), "PostgreSQL URL to use (default: a private server started for the run); pgbench uses a database named after it with _pgbench")
	fs.BoolVar(&o.pgbench, "pgbench", true, "also run pgbench -N against the same server")
	fs.IntVar(&o.pgbenchTime, "pgbench-time", 0, "pgbench's -T in seconds (default: the bot's run time)")
	fs.IntVar(&o.pgbenchScale, "pgbench-scale", 10, "pgbench -i's scale")
	fs.BoolVar(&o.fast, "fast", false, "start the private server without durability (fsync, synchronous_commit off); both the bot and pgbench then run so")
	fs.BoolVar(&o.asyncCommit, "async-commit", false, "set synchronous_commit = off for every transaction of the bot's database (ALTER DATABASE; not pgbench's): the most that committing dialog steps without waiting for the disk can gain")
	fs.StringVar(&o.botLog, "bot-log", "", "file for the bot's JSON log (default: discarded)")
	fs.StringVar(&o.cpuProfile, "bot-cpuprofile", "", "write a CPU profile of the bot during the traffic to this file (go tool pprof)")
	fs.StringVar(&o.heapProfile, "bot-memprofile", "", "write the bot's heap at the end of the traffic to this file (go tool pprof)")
	fs.StringVar(&o.logLevel, "log-level", "info", "the bot's LOG_LEVEL (info, as in serve, logs every update)")
	fs.DurationVar(&o.answerWait, "answer-timeout", time.Minute, "longest wait for one answer before the person gives up")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.people < 1:
		return o, errors.New("-people must be at least 1")
	case o.concurrency < 1:
		return o, errors.New("-concurrency must be at least 1")
	case o.rate < 0:
		return o, errors.New("-rate must not be negative")
	case o.openDialogs < 0:
		return o, errors.New("-open-dialogs must not be negative")
	case o.openDialogs > 0 && o.openDialogs < o.people:
		return o, errors.New("-open-dialogs must be at least -people: the people resume open dialogs")
	case o.asyncCommit && o.databaseURL != "":
		return o, errors.New("-async-commit changes the database's settings: it is for the private server only, not with -database")
	case o.pgbenchScale < 1 || o.pgbenchTime < 0:
		return o, errors.New("-pgbench-scale must be at least 1 and -pgbench-time not negative")
	}
	return o, nil
}

// report is what a run measured.
type report struct {
	Date        string            `json:"date"`
	Mode        string            `json:"mode"`
	People      int               `json:"people"`
	OpenDialogs int               `json:"open_dialogs"`
	Concurrency int               `json:"concurrency"`
	Rate        float64           `json:"rate,omitempty"`
	Server      map[string]string `json:"server"`
	BotWorkers  int               `json:"bot_workers"`
	BotPool     int32             `json:"bot_pool_conns"`

	Seconds       float64 `json:"seconds"`
	Sent          int64   `json:"sent"`    // inputs the people sent
	Updates       int64   `json:"updates"` // updates the bot handled
	UpdatesPerSec float64 `json:"updates_per_sec"`
	Missed        int64   `json:"missed_ticks,omitempty"`

	Handle   latencies `json:"handle"`
	Full     latencies `json:"full"`
	EndToEnd latencies `json:"end_to_end"`

	RoundTripsPerUpdate float64          `json:"round_trips_per_update"`
	RoundTrips          map[string]int64 `json:"round_trips"`
	Outcomes            map[string]int64 `json:"outcomes"`

	PeakMemory int64  `json:"peak_memory_bytes"` // VmHWM of the bot process
	EndRSS     int64  `json:"end_rss_bytes"`
	HeapInuse  uint64 `json:"heap_inuse_bytes"`

	// CPU time used during the traffic, in seconds: by the bot process,
	// and by the load command (the people and the Bot API double), both on
	// the machine PostgreSQL runs on.
	BotCPU    float64 `json:"bot_cpu_seconds"`
	DriverCPU float64 `json:"driver_cpu_seconds"`

	FirstPerson int64 `json:"first_person"`
	Stride      int64 `json:"stride"`
	Appeals     int   `json:"appeals"`    // of the people, in the database
	Missing     int   `json:"missing"`    // people whose appeal is not in the database
	Duplicated  int   `json:"duplicated"` // people with more than one appeal
	Rejected    int   `json:"rejected"`   // calls Telegram would have refused

	Pgbench  *pgbenchResult `json:"pgbench,omitempty"`
	Ratio    float64        `json:"ratio,omitempty"` // bot updates/s over pgbench tps
	Problems []string       `json:"problems,omitempty"`
}

// run is the load command; tests call it with their own arguments.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	opt, err := parseOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "loadtest: "+format+"\n", args...)
	}
	rep := &report{Date: time.Now().UTC().Format(time.RFC3339), People: opt.people, OpenDialogs: opt.openDialogs, Concurrency: opt.concurrency, Rate: opt.rate}
	if opt.rate > 0 {
		rep.Mode = fmt.Sprintf("open loop at %.0f updates/s", opt.rate)
	} else {
		rep.Mode = fmt.Sprintf("closed loop, %d people at once", opt.concurrency)
	}

	// The database: a private server, or the one given.
	botURL, benchURL := opt.databaseURL, ""
	if botURL == "" {
		dir, err := os.MkdirTemp("", "loadtest-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		progress("starting PostgreSQL in %s", dir)
		pgOpts := []pglocal.Option{pglocal.StopWithParent()}
		if opt.fast {
			pgOpts = append(pgOpts, pglocal.Fast())
		}
		srv, err := pglocal.Start(ctx, filepath.Join(dir, "pg"), nil, pgOpts...)
		if err != nil {
			return err
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			srv.Stop(stopCtx)
		}()
		for _, name := range []string{"migrantbot", "pgbench"} {
			if err := srv.CreateDatabase(ctx, name, ""); err != nil {
				return err
			}
		}
		botURL, benchURL = srv.URL("migrantbot"), srv.URL("pgbench")
	} else if opt.pgbench {
		if benchURL, err = pgbenchDatabase(ctx, botURL); err != nil {
			return err
		}
	}
	if err := store.Migrate(ctx, botURL); err != nil {
		return err
	}
	if opt.asyncCommit {
		if err := alterDatabase(ctx, botURL, "SET synchronous_commit = off"); err != nil {
			return err
		}
	}
	if rep.Server, err = serverSettings(ctx, botURL); err != nil {
		return err
	}
	key, err := sealed.NewKey()
	if err != nil {
		return err
	}
	keys, err := sealed.Parse(key, "")
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, botURL, nil, store.WithKeys(keys))
	if err != nil {
		return err
	}
	defer st.Close()

	// The Bot API double, behind the front that wakes the people.
	tb := &runTB{}
	defer tb.cleanup()
	tg := telegramtest.New(tb, token)
	front, err := newAPIFront(tg.URL)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	frontSrv := &http.Server{Handler: front, ReadHeaderTimeout: 10 * time.Second}
	go frontSrv.Serve(ln)
	defer frontSrv.Close()

	progress("starting the bot")
	bp, err := startBot(ctx, []string{
		envRole + "=bot",
		"DATABASE_URL=" + botURL,
		"TELEGRAM_API_URL=http://" + ln.Addr().String(),
		"TELEGRAM_BOT_TOKEN=" + token,
		"DATA_KEY=" + key,
		// The double is not Telegram: its pacing of one message a second
		// per chat and 30 in all would measure the pacing, not the bot.
		"TELEGRAM_CHAT_RATE=100000", "TELEGRAM_RATE=100000",
		"LOG_LEVEL=" + opt.logLevel,
		"LOADTEST_CPU_PROFILE=" + opt.cpuProfile,
		"LOADTEST_HEAP_PROFILE=" + opt.heapProfile,
	}, opt.botLog)
	if err != nil {
		return err
	}
	defer bp.kill()

	// Person ids far from other runs', so a database given with -database
	// may be used again.
	base := (1 + rand.Int64N(1<<20)) * 10_000_000
	d := newDriver(tg, front, opt.answerWait)
	// A first person warms the bot up (connections, prepared statements)
	// before anything is counted.
	if err := d.converse(ctx, d.newPerson(base-1, 0)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	from := 0
	rep.FirstPerson, rep.Stride = base, 1
	if opt.openDialogs > 0 {
		template := d.newPerson(base-2, 0)
		for template.next < openDialogStep {
			if err := d.send(template); err != nil {
				return err
			}
			if err := d.await(ctx, template); err != nil {
				return fmt.Errorf("open dialog template: %w", err)
			}
		}
		progress("creating %d open dialogs", opt.openDialogs)
		if err := seedOpenDialogs(ctx, st, keys, template.u.ID, base, opt.openDialogs); err != nil {
			return err
		}
		from, rep.Stride = openDialogStep, int64(opt.openDialogs/opt.people)
	}
	ids := make([]int64, opt.people)
	for i := range ids {
		ids[i] = base + int64(i)*rep.Stride
	}
	if err := bp.call("reset", nil); err != nil {
		return err
	}
	d.sent.Store(0)
	d.e2e.reset()

	progress("%d people, %s", opt.people, rep.Mode)
	start, cpuStart := time.Now(), cpuTime()
	if opt.rate > 0 {
		rep.Missed = d.openLoop(ctx, ids, from, opt.rate)
	} else {
		d.closedLoop(ctx, ids, from, opt.concurrency)
	}
	elapsed, driverCPU := time.Since(start), cpuTime()-cpuStart
	if err := ctx.Err(); err != nil {
		return err
	}
	// The last answers reach the double a moment before their updates'
	// handling ends (the outbox is told after the send): wait for it.
	var br botReport
	for wait := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if err := bp.call("report", &br); err != nil {
			return err
		}
		if br.Full.Count >= br.Updates || time.Since(wait) > 5*time.Second {
			break
		}
	}
	rep.BotCPU, rep.DriverCPU = br.CPU.Seconds(), driverCPU.Seconds()
	rep.PeakMemory, rep.EndRSS = processMemory(bp.cmd.Process.Pid)
	if err := bp.stop(); err != nil {
		return err
	}
	rep.Seconds = elapsed.Seconds()
	rep.Sent, rep.Updates = d.sent.Load(), br.Updates
	rep.UpdatesPerSec = float64(br.Updates) / elapsed.Seconds()
	rep.Handle, rep.Full, rep.EndToEnd = br.Handle, br.Full, d.e2e.summary()
	rep.RoundTrips, rep.Outcomes = br.RoundTrips, br.Outcomes
	var trips int64
	for _, n := range br.RoundTrips {
		trips += n
	}
	if br.Updates > 0 {
		rep.RoundTripsPerUpdate = float64(trips) / float64(br.Updates)
	}
	rep.HeapInuse, rep.BotWorkers, rep.BotPool = br.HeapInuse, br.Workers, br.PoolConns
	rep.Problems = append(rep.Problems, d.problems...)
	if br.Failed > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%d updates failed and were retried", br.Failed))
	}

	// Every person's appeal, exactly once, with the reference they were shown.
	if err := checkAppeals(ctx, st, ids, d, rep); err != nil {
		return err
	}
	for _, c := range tg.Rejected() {
		rep.Rejected++
		rep.Problems = append(rep.Problems, fmt.Sprintf("Telegram would refuse %s: %d %s", c.Method, c.Code, c.Description))
	}
	rep.Problems = append(rep.Problems, tb.errors()...)

	if opt.pgbench {
		secs := opt.pgbenchTime
		if secs == 0 {
			secs = max(1, int(math.Ceil(elapsed.Seconds())))
		}
		progress("pgbench -N for %d s", secs)
		pr, err := runPgbench(ctx, benchURL, opt.pgbenchScale, opt.concurrency, secs)
		if err != nil {
			return err
		}
		rep.Pgbench = &pr
		if pr.TPS > 0 {
			rep.Ratio = rep.UpdatesPerSec / pr.TPS
		}
	}

	if opt.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(stdout, rep)
	}
	if len(rep.Problems) > 0 {
		return fmt.Errorf("%d problems, the first: %s", len(rep.Problems), rep.Problems[0])
	}
	return nil
}

// checkAppeals counts, for every person, the appeals in the database, and
// checks them against the references the person was shown.
func checkAppeals(ctx context.Context, st *store.Store, ids []int64, d *driver, rep *report) error {
	rows, err := st.Pool().Query(ctx, `SELECT user_id, reference FROM appeals WHERE user_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("count appeals: %w", err)
	}
	byPerson := map[int64][]string{}
	for rows.Next() {
		var id int64
		var ref string
		if err := rows.Scan(&id, &ref); err != nil {
			return fmt.Errorf("count appeals: %w", err)
		}
		byPerson[id] = append(byPerson[id], ref)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count appeals: %w", err)
	}
	for _, id := range ids {
		refs := byPerson[id]
		rep.Appeals += len(refs)
		switch {
		case len(refs) == 0:
			rep.Missing++
		case len(refs) > 1:
			rep.Duplicated++
		}
		if seen := d.refs[id]; len(refs) > 0 && (len(seen) != 1 || seen[0] != refs[0]) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("person %d was shown %v, the database holds %v", id, seen, refs))
		}
	}
	if rep.Missing > 0 || rep.Duplicated > 0 {
		rep.Problems = append(rep.Problems, fmt.Sprintf("appeals: %d people without one, %d with more than one", rep.Missing, rep.Duplicated))
	}
	return nil
}

// alterDatabase runs ALTER DATABASE <the database of dbURL> change; new
// connections to it then have the setting.
func alterDatabase(ctx context.Context, dbURL, change string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{conn.Config().Database}.Sanitize()
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+name+" "+change); err != nil {
		return fmt.Errorf("alter database %s: %w", name, err)
	}
	return nil
}

// serverSettings returns the settings that decide PostgreSQL's speed.
func serverSettings(ctx context.Context, dbURL string) (map[string]string, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	out := map[string]string{}
	for _, name := range []string{"server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers", "max_connections", "wal_sync_method"} {
		var v string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v); err != nil {
			return nil, fmt.Errorf("setting %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

// pgbenchDatabase creates, if missing, the database pgbench uses beside the
// one at dbURL (same server, same settings), and returns its URL.
func pgbenchDatabase(ctx context.Context, dbURL string) (string, error) {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return "", fmt.Errorf("parse -database: %w", err)
	}
	name := cfg.Database + "_pgbench"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // duplicate_database
		return "", fmt.Errorf("create the pgbench database %s: %w", name, err)
	}
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("-database must be a postgres:// URL for pgbench's database to be derived from it")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// botProcess is the bot running in a child process.
type botProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan []byte
	done  chan struct{}
	err   error // the process's exit, set before done is closed
}

// startBot starts this executable as the bot process with env and waits
// until it is connected to the Bot API.
func startBot(ctx context.Context, env []string, logPath string) (*botProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = env
	if logPath == "" {
		logPath = os.DevNull
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("bot log: %w", err)
	}
	defer logFile.Close()
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the bot process: %w", err)
	}
	b := &botProcess{cmd: cmd, stdin: stdin, lines: make(chan []byte, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			b.lines <- append([]byte(nil), sc.Bytes()...)
		}
		b.err = cmd.Wait()
		close(b.done)
	}()
	if err := b.read(ctx, time.Minute, nil); err != nil {
		b.kill()
		return nil, fmt.Errorf("the bot process did not start: %w (its log: -bot-log)", err)
	}
	return b, nil
}

// read waits for the bot's next line and decodes it into into (if not nil).
func (b *botProcess) read(ctx context.Context, timeout time.Duration, into any) error {
	select {
	case line := <-b.lines:
		if into == nil {
			return nil
		}
		return json.Unmarshal(line, into)
	case <-b.done:
		return fmt.Errorf("the bot process exited: %v", b.err)
	case <-time.After(timeout):
		return errors.New("the bot process did not answer")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// call sends a command to the bot and decodes its answer.
func (b *botProcess) call(command string, into any) error {
	if _, err := io.WriteString(b.stdin, command+"\n"); err != nil {
		return fmt.Errorf("bot %s: %w", command, err)
	}
	return b.read(context.Background(), 30*time.Second, into)
}

// stop closes the bot's stdin, which stops it, and waits for it to exit.
func (b *botProcess) stop() error {
	b.stdin.Close()
	select {
	case <-b.done:
		if b.err != nil {
			return fmt.Errorf("the bot process: %w", b.err)
		}
		return nil
	case <-time.After(30 * time.Second):
		b.kill()
		return errors.New("the bot process did not stop within 30 s")
	}
}

func (b *botProcess) kill() {
	select {
	case <-b.done:
	default:
		b.cmd.Process.Kill()
		<-b.done
	}
}

// processMemory returns the peak and current resident memory of process
// pid in bytes (VmHWM and VmRSS of /proc/<pid>/status), 0 where the system
// does not tell.
func processMemory(pid int) (peak, rss int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmHWM":
			peak = kb << 10
		case "VmRSS":
			rss = kb << 10
		}
	}
	return peak, rss
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// printReport prints the report as a table, the bot beside pgbench.
func printReport(w io.Writer, r *report) {
	if r.OpenDialogs > 0 {
		fmt.Fprintf(w, "loadtest %s: %d people resume %d of %d open dialogs to the end (%d updates each), %s",
			r.Date, r.People, r.People, r.OpenDialogs, len(appealDialog)-openDialogStep, r.Mode)
	} else {
		fmt.Fprintf(w, "loadtest %s: %d people through the complete appeal dialog (%d updates each), %s", r.Date, r.People, len(appealDialog), r.Mode)
	}
	fmt.Fprintf(w, "\nPostgreSQL %s: fsync=%s synchronous_commit=%s full_page_writes=%s shared_buffers=%s wal_sync_method=%s\n",
		r.Server["server_version"], r.Server["fsync"], r.Server["synchronous_commit"], r.Server["full_page_writes"], r.Server["shared_buffers"], r.Server["wal_sync_method"])
	fmt.Fprintf(w, "bot: %d workers, %d database connections, Telegram pacing off (TELEGRAM_CHAT_RATE, TELEGRAM_RATE 100000: the double is not Telegram)\n\n",
		r.BotWorkers, r.BotPool)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tbot\tpgbench -N\n")
	pg := func(f func(p *pgbenchResult) string) string {
		if r.Pgbench == nil {
			return "-"
		}
		return f(r.Pgbench)
	}
	fmt.Fprintf(tw, "updates/s (transactions/s)\t%.0f (%d in %.1f s)\t%s\n", r.UpdatesPerSec, r.Updates, r.Seconds,
		pg(func(p *pgbenchResult) string { return fmt.Sprintf("%.0f (%s)", p.TPS, p.Command) }))
	if r.Pgbench != nil {
		fmt.Fprintf(tw, "bot / pgbench\t%.2f\t\n", r.Ratio)
	}
	fmt.Fprintf(tw, "handling latency p50 / p95 / p99\t%s / %s / %s\tavg %s\n", ms(r.Handle.P50), ms(r.Handle.P95), ms(r.Handle.P99),
		pg(func(p *pgbenchResult) string { return fmt.Sprintf("%.2f ms", p.LatencyMS) }))
	fmt.Fprintf(tw, "  with delivery to the double\t%s / %s / %s\t\n", ms(r.Full.P50), ms(r.Full.P95), ms(r.Full.P99))
	fmt.Fprintf(tw, "  person's view (sent → answer)\t%s / %s / %s (max %s)\t\n", ms(r.EndToEnd.P50), ms(r.EndToEnd.P95), ms(r.EndToEnd.P99), ms(r.EndToEnd.Max))
	fmt.Fprintf(tw, "database round trips per update\t%.2f\t5 (BEGIN, 3 statements, END)\n", r.RoundTripsPerUpdate)
	fmt.Fprintf(tw, "peak memory of the bot (VmHWM)\t%s (Go heap in use %s at the end)\t\n", mb(r.PeakMemory), mb(int64(r.HeapInuse)))
	fmt.Fprintf(tw, "appeals\t%d of %d people, %d missing, %d duplicated\t\n", r.Appeals, r.People, r.Missing, r.Duplicated)
	if r.Updates > 0 {
		fmt.Fprintf(tw, "CPU per update\tbot %.2f ms, load command and double %.2f ms\t\n",
			r.BotCPU*1000/float64(r.Updates), r.DriverCPU*1000/float64(r.Updates))
	}
	tw.Flush()
	if r.Missed > 0 {
		fmt.Fprintf(w, "\nopen loop: %d ticks found nobody to send for: every person had started and was waiting for an answer (expected in the last moments of a run; many more mean the rate was not offered)\n", r.Missed)
	}
	fmt.Fprintf(w, "\nround trips per update, by statement:\n")
	type kv struct {
		k string
		v int64
	}
	var trips []kv
	for k, v := range r.RoundTrips {
		trips = append(trips, kv{k, v})
	}
	sort.Slice(trips, func(i, j int) bool {
		return trips[i].v > trips[j].v || trips[i].v == trips[j].v && trips[i].k < trips[j].k
	})
	for _, t := range trips {
		fmt.Fprintf(w, "  %6.3f  %s\n", float64(t.v)/float64(max(r.Updates, 1)), t.k)
	}
	fmt.Fprintf(w, "update outcomes: %v\n", r.Outcomes)
	fmt.Fprintf(w, "\ntargets (issue 5):\n")
	if r.Pgbench != nil {
		fmt.Fprintf(w, "  bot updates/s >= 90%% of pgbench -N tps: %.0f%% (%s)\n", r.Ratio*100, met(r.Ratio >= 0.9))
	}
	fmt.Fprintf(w, "  handling p99 < 20 ms at half the bot's maximum rate (an open-loop run at half a closed loop's updates/s): %s (%s)\n",
		ms(r.Handle.P99), met(r.Handle.P99 < 20*time.Millisecond))
	fmt.Fprintf(w, "  peak memory < 100 MB (with -open-dialogs 100000): %s (%s)\n", mb(r.PeakMemory), met(r.PeakMemory < 100<<20))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "PROBLEM: %s\n", p)
	}
}
