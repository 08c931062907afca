//go:build unix

package pglocal

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// readPIDFile returns the process id on the first line of postmaster.pid.
func readPIDFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("pglocal: read %s: %w", path, err)
	}
	// A single-user backend writes its id negated.
	if pid < 0 {
		pid = -pid
	}
	return pid, nil
}

// processAlive reports whether process pid exists and is not a zombie (a
// zombie has exited and only waits for its parent to collect it).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		// No /proc: trust kill.
		return true
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold spaces or parentheses.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
