//go:build unix && !linux

package pglocal

import "syscall"

// setParentDeathSignal does nothing: only Linux can signal a child when its
// parent dies.
func setParentDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {}
