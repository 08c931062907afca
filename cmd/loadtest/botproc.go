package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"migrantbot"
	"migrantbot/bot"
	"migrantbot/flows"
	"migrantbot/locales"
	"migrantbot/sealed"
	"migrantbot/store"
)

// envRole names the variable that makes this binary the bot process of a
// load run rather than the load command: run starts its own executable
// again with envRole=bot, so that the bot's peak memory is the peak of a
// process of its own and the Bot API double's is not in it.
const envRole = "MIGRANTBOT_LOADTEST_ROLE"

// botReport is what the bot process tells the load command on "report".
type botReport struct {
	// Updates counts the updates the dialogs and the store handled (Apply
	// committed or refused a duplicate); Failed those whose handling
	// returned an error to be retried.
	Updates int64 `json:"updates"`
	Failed  int64 `json:"failed"`
	// Outcomes counts HandleUpdate's outcomes (handled, duplicate, limited...).
	Outcomes map[string]int64 `json:"outcomes"`
	// Handle is the handling latency: from the moment HandleUpdate took the
	// update up to the moment its transaction committed and its messages were
	// handed back for delivery.
	Handle latencies `json:"handle"`
	// Full is HandleUpdate as a whole, delivery to the Bot API included.
	Full latencies `json:"full"`
	// RoundTrips counts database round trips by the statement that made
	// them: every Query, QueryRow and Exec (BEGIN and COMMIT included), every
	// batch (one round trip, however many statements) and every Prepare.
	RoundTrips map[string]int64 `json:"round_trips"`
	Connects   int64            `json:"connects"`
	PoolConns  int32            `json:"pool_conns"`
	Workers    int              `json:"workers"`
	HeapInuse  uint64           `json:"heap_inuse"`
	GoSys      uint64           `json:"go_sys"`
	Goroutines int              `json:"goroutines"`
	// CPU is the CPU time the bot process used since the last reset.
	CPU time.Duration `json:"cpu"`
}

// botStats is what the bot process counts.
type botStats struct {
	handle, full histogram
	cpuAtReset   atomic.Int64 // cpuTime at the last reset
	updates      atomic.Int64
	failed       atomic.Int64
	connects     atomic.Int64

	mu       sync.Mutex
	outcomes map[string]int64
	trips    map[string]int64
}

func newBotStats() *botStats {
	return &botStats{outcomes: map[string]int64{}, trips: map[string]int64{}}
}

func (s *botStats) reset() {
	s.cpuAtReset.Store(int64(cpuTime()))
	s.handle.reset()
	s.full.reset()
	s.updates.Store(0)
	s.failed.Store(0)
	s.connects.Store(0)
	s.mu.Lock()
	s.outcomes = map[string]int64{}
	s.trips = map[string]int64{}
	s.mu.Unlock()
}

func (s *botStats) trip(label string) {
	s.mu.Lock()
	s.trips[label]++
	s.mu.Unlock()
}

// Update, RateLimited and RequestFailed make botStats the bot's Observer.
func (s *botStats) Update(kind, outcome string, d time.Duration) {
	s.full.add(d)
	s.mu.Lock()
	s.outcomes[outcome]++
	s.mu.Unlock()
}

func (s *botStats) RateLimited() {}

func (s *botStats) RequestFailed(reason string) {
	s.mu.Lock()
	s.outcomes["request failed: "+reason]++
	s.mu.Unlock()
}

// roundTrips is the pgx tracer that counts the store's round trips.
type roundTrips struct{ s *botStats }

func (t roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	t.s.trip(statementLabel(d.SQL))
	return ctx
}

func (roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	label := "batch"
	if d.Batch != nil && len(d.Batch.QueuedQueries) > 0 {
		label = fmt.Sprintf("batch of %d: %s...", len(d.Batch.QueuedQueries), statementLabel(d.Batch.QueuedQueries[0].SQL))
	}
	t.s.trip(label)
	return ctx
}

func (roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (t roundTrips) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	t.s.trip("prepare")
	return ctx
}

func (roundTrips) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func (t roundTrips) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	t.s.connects.Add(1)
	return ctx
}

func (roundTrips) TraceConnectEnd(context.Context, pgx.TraceConnectEndData) {}

// statementLabel names a statement by its first words: enough to tell the
// statements of the store apart, and never a parameter (values travel
// separately).
func statementLabel(sql string) string {
	words := strings.Fields(sql)
	if len(words) > 5 {
		words = words[:5]
	}
	return strings.ToLower(strings.Join(words, " "))
}

// botConfig is the environment of the bot process, set by the load command.
type botConfig struct {
	databaseURL, apiURL, token, dataKey string
	chatRate, rate                      float64
	logLevel                            slog.Level
}

func loadBotConfig(getenv func(string) string) (botConfig, error) {
	c := botConfig{
		databaseURL: getenv("DATABASE_URL"),
		apiURL:      getenv("TELEGRAM_API_URL"),
		token:       getenv("TELEGRAM_BOT_TOKEN"),
		dataKey:     getenv("DATA_KEY"),
	}
	if c.databaseURL == "" || c.apiURL == "" || c.token == "" || c.dataKey == "" {
		return c, errors.New("the bot process needs DATABASE_URL, TELEGRAM_API_URL, TELEGRAM_BOT_TOKEN and DATA_KEY")
	}
	for _, v := range []struct {
		name string
		into *float64
	}{{"TELEGRAM_CHAT_RATE", &c.chatRate}, {"TELEGRAM_RATE", &c.rate}} {
		if r := getenv(v.name); r != "" {
			n, err := strconv.ParseFloat(r, 64)
			if err != nil || n <= 0 {
				return c, fmt.Errorf("%s %q: want messages a second", v.name, r)
			}
			*v.into = n
		}
	}
	if lvl := getenv("LOG_LEVEL"); lvl != "" {
		if err := c.logLevel.UnmarshalText([]byte(lvl)); err != nil {
			return c, fmt.Errorf("LOG_LEVEL %q: %w", lvl, err)
		}
	}
	return c, nil
}

// runBot is the bot process: the dialogs, the store and the bot wired as
// `migrantbot serve` wires them for long polling (the staff console and the
// Prometheus metrics left out), plus the counting the report needs. It reads
// commands from stdin, one a line: "reset" zeroes the counts, "report"
// writes a botReport as one JSON line to stdout. It stops when stdin closes.
func runBot(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cfg, err := loadBotConfig(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	keys, err := sealed.Parse(cfg.dataKey, "")
	if err != nil {
		return err
	}
	if problems := locales.Check(locales.Files()); len(problems) > 0 {
		return fmt.Errorf("content check: %d problems, the first: %s", len(problems), problems[0])
	}
	cat, err := locales.Load()
	if err != nil {
		return err
	}
	eng, err := flows.New(cat, flows.Options{})
	if err != nil {
		return err
	}
	stats := newBotStats()
	st, err := store.Open(ctx, cfg.databaseURL, logger, store.WithKeys(keys), store.WithTracer(roundTrips{stats}))
	if err != nil {
		return err
	}
	defer st.Close()
	api, err := bot.Connect(ctx, cfg.apiURL, cfg.token, &http.Client{Timeout: 75 * time.Second}, logger)
	if err != nil {
		return err
	}
	inner := eng.Handler(st)
	handle := func(ctx context.Context, u migrantbot.Update, in migrantbot.Input) (migrantbot.Handled, error) {
		h, err := inner(ctx, u, in)
		// in.Now is when HandleUpdate took the update up.
		stats.handle.add(time.Since(in.Now))
		if err != nil && migrantbot.ErrorCode(err) != migrantbot.EDUPLICATE {
			stats.failed.Add(1)
		} else {
			stats.updates.Add(1)
		}
		return h, err
	}
	const workers = 8 // bot.Options' default, as serve uses it
	b := bot.New(api, handle, st, logger, bot.Options{
		APIURL: cfg.apiURL, ChatRate: cfg.chatRate, Rate: cfg.rate, Observer: stats, Workers: workers,
		// The simulated people answer at machine speed: a whole dialog is
		// 20 updates in well under the 10 s of the per-person flood limit,
		// which is meant for people, not for a benchmark.
		UpdateLimit: -1,
	})
	commands := map[string][]migrantbot.Command{}
	for _, lang := range eng.Languages() {
		commands[lang] = eng.Commands(lang)
	}
	if err := b.RegisterCommands(ctx, commands); err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.Poll(gctx) })
	g.Go(func() error { return b.RunOutbox(gctx) })
	g.Go(func() error {
		defer cancel()
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(map[string]bool{"ready": true}); err != nil {
			return err
		}
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			switch sc.Text() {
			case "reset":
				stats.reset()
				if err := startProfile(getenv("LOADTEST_CPU_PROFILE")); err != nil {
					return err
				}
				if err := enc.Encode(map[string]bool{"reset": true}); err != nil {
					return err
				}
			case "report":
				pprof.StopCPUProfile()
				if err := writeHeapProfile(getenv("LOADTEST_HEAP_PROFILE")); err != nil {
					return err
				}
				if err := enc.Encode(stats.report(st, workers)); err != nil {
					return err
				}
			}
		}
		return nil // stdin closed: the load command is done with the bot
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (s *botStats) report(st *store.Store, workers int) botReport {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r := botReport{
		Updates: s.updates.Load(), Failed: s.failed.Load(),
		Handle: s.handle.summary(), Full: s.full.summary(),
		Connects: s.connects.Load(), PoolConns: st.Pool().Config().MaxConns, Workers: workers,
		HeapInuse: ms.HeapInuse, GoSys: ms.Sys, Goroutines: runtime.NumGoroutine(),
		CPU:      cpuTime() - time.Duration(s.cpuAtReset.Load()),
		Outcomes: map[string]int64{}, RoundTrips: map[string]int64{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.outcomes {
		r.Outcomes[k] = v
	}
	for k, v := range s.trips {
		r.RoundTrips[k] = v
	}
	return r
}

// startProfile starts profiling the bot's CPU into path, when set, until
// the next report: the traffic of the run, without the start.
func startProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	// The file is closed when the process exits, after StopCPUProfile flushed it.
	return pprof.StartCPUProfile(f)
}

// writeHeapProfile writes what the bot's heap holds now, after a
// collection, to path, when set.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}
