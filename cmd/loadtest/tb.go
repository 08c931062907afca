package main

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// runTB is the testing.TB that the Bot API double (bot/telegramtest, made
// for tests) is given when the load command runs outside a test. It
// implements the methods the double calls (Helper, Cleanup, Errorf, Fatalf
// and their relatives); the embedded nil interface only satisfies
// testing.TB's unexported method, and any other method would panic.
type runTB struct {
	testing.TB

	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (t *runTB) Helper()             {}
func (t *runTB) Name() string        { return "loadtest" }
func (t *runTB) Log(...any)          {}
func (t *runTB) Logf(string, ...any) {}

func (t *runTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *runTB) Errorf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errs = append(t.errs, fmt.Sprintf(format, args...))
}

func (t *runTB) Error(args ...any) { t.Errorf("%s", fmt.Sprint(args...)) }

func (t *runTB) Fatalf(format string, args ...any) {
	t.Errorf(format, args...)
	runtime.Goexit()
}

func (t *runTB) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }

func (t *runTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.errs) > 0
}

// errors returns what the double reported.
func (t *runTB) errors() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.errs)
}

// cleanup runs the cleanups, last registered first.
func (t *runTB) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
