package storetest

import (
	"os"
	"syscall"
)

// minScratchBytes is the free space /dev/shm needs to be used: a test
// database takes about 8 MB and they are dropped after each test.
const minScratchBytes = 1 << 30

// scratchDir returns where the throwaway server keeps its data: /dev/shm,
// which lives in memory and makes CREATE DATABASE about ten times faster
// than a disk, when it is there and has room (containers often give it only
// 64 MB), and the usual temporary directory ("") otherwise.
func scratchDir() string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil {
		return ""
	}
	if uint64(st.Bavail)*uint64(st.Bsize) < minScratchBytes {
		return ""
	}
	dir, err := os.MkdirTemp("/dev/shm", "probe-")
	if err != nil {
		return ""
	}
	os.Remove(dir)
	return "/dev/shm"
}

// processExists reports whether process pid is still there.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
