package pglocal

import "syscall"

// setParentDeathSignal asks the kernel to send sig to the child when its
// parent dies. Go sets it after switching credentials, which would otherwise
// clear it.
func setParentDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) {
	attr.Pdeathsig = sig
}
