//go:build linux

package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"migrantbot/bot/telegramtest"
	"migrantbot/pglocal"
	"migrantbot/store"
)

// outagePG is a PostgreSQL server of the test's own, which the test can
// stop and start again on the same data directory.
type outagePG struct {
	tb      testing.TB
	dataDir string
	srv     *pglocal.Server // the running server; only the test's goroutine uses it
}

func (p *outagePG) start() {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pglocal.Start(ctx, p.dataDir, nil, pglocal.Fast(), pglocal.StopWithParent())
	if err != nil {
		p.tb.Fatalf("start PostgreSQL (the outage test needs its own server, from the installed binaries): %v", err)
	}
	p.srv = srv
}

func (p *outagePG) stop() {
	p.tb.Helper()
	if err := p.srv.Stop(context.Background()); err != nil {
		p.tb.Fatalf("stop PostgreSQL: %v", err)
	}
}

// TestDatabaseOutage stops PostgreSQL for ten seconds in the middle of
// traffic. serve must stay up, confirm nothing it has not saved, and go on
// by itself once the database is back: every input gets its answer, and
// every person ends with exactly one appeal.
func TestDatabaseOutage(t *testing.T) {
	const (
		before = 10 // people who are in the middle of their dialog when the database stops
		during = 10 // people who start writing while it is down
		outage = 10 * time.Second
	)
	begin := time.Now()
	pg := &outagePG{tb: t, dataDir: filepath.Join(t.TempDir(), "pg")}
	pg.start()
	// Registered before serve's, so it runs after serve stopped.
	t.Cleanup(func() { _ = pg.srv.Stop(context.Background()) })
	ctx := context.Background()
	if err := pg.srv.CreateDatabase(ctx, "migrantbot", ""); err != nil {
		t.Fatalf("create database: %v", err)
	}
	url := pg.srv.URL("migrantbot")
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	tg := telegramtest.New(t, token)
	b := startServe(t, tg, url)
	st := openStore(t, url)

	run := newDialogRun(tg, st, time.Now().Add(5*time.Minute))
	run.retryReads = true
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var wg sync.WaitGroup
	var ids []int64
	talk := func(n int) {
		for range n {
			id := int64(600000 + len(ids))
			ids = append(ids, id)
			personRNG := rand.New(rand.NewPCG(rng.Uint64(), uint64(id)))
			wg.Go(func() { run.converse(ctx, id, personRNG) })
		}
	}
	talk(before)

	// The database goes away when the first people are about half way.
	half := int64(before * len(appealDialog) / 2)
	for run.progress.Load() < half && !run.givenUp() {
		time.Sleep(5 * time.Millisecond)
	}
	run.faults.Add(1)
	pg.stop()
	stopped := time.Now()
	atStop := run.progress.Load()
	talk(during)
	time.Sleep(outage)
	duringOutage := run.progress.Load() - atStop
	pg.start()
	restarted := time.Now()
	if got := pg.srv.URL("migrantbot"); got != url {
		t.Fatalf("PostgreSQL came back at %s, not %s", got, url)
	}
	atRestart := run.progress.Load()
	for run.progress.Load() == atRestart && !run.givenUp() {
		time.Sleep(5 * time.Millisecond)
	}
	recovery := time.Since(restarted)
	wg.Wait()
	select {
	case err := <-b.done:
		t.Errorf("serve exited (%v) instead of riding out the outage", err)
		b.done <- err // for stop
	default:
	}

	run.report(t)
	confirmed, lost, duplicated := run.checkAppeals(t, ids)
	checkTelegramRules(t, tg)
	if confirmed != before+during {
		t.Errorf("%d appeals confirmed, want %d", confirmed, before+during)
	}
	logs := b.logs.String()
	t.Logf("%d people, PostgreSQL down for %v (%d answers during the outage, from what was saved before it), first answer %v after it came back; "+
		"%d appeals confirmed, %d lost, %d duplicated, %d answers came after the outage hit them; %d handling retries logged; in %v",
		before+during, restarted.Sub(stopped).Round(100*time.Millisecond), duringOutage, recovery.Round(10*time.Millisecond),
		confirmed, lost, duplicated, run.interrupted.Load(), strings.Count(logs, "handling failed, retrying"), time.Since(begin).Round(time.Second))
	if t.Failed() {
		t.Logf("serve's logs:\n%s", tail(logs, 20000))
	}
}
