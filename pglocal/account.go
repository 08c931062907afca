//go:build unix

package pglocal

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// account is the system user the server runs as when we are root.
type account struct {
	uid, gid uint32
	groups   []uint32 // every group of the user, the primary one included
}

// serverAccount returns the account to run PostgreSQL as: nil when the process
// is not root (the server then runs as the current user), and the `postgres`
// system user when it is, because PostgreSQL refuses to run as root.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pglocal: running as root, PostgreSQL must run as another user, but there is no `postgres` system user (apt-get install postgresql creates it; or run as an ordinary user): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pglocal: uid of user postgres: %w", err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pglocal: gid of user postgres: %w", err)
	}
	a := &account{uid: uint32(uid), gid: uint32(gid), groups: []uint32{uint32(gid)}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil && !slices.Contains(a.groups, uint32(g)) {
				a.groups = append(a.groups, uint32(g))
			}
		}
	}
	return a, nil
}

// sysProcAttr returns the process attributes that run a child as the account
// (as the current user when a is nil).
func (a *account) sysProcAttr() *syscall.SysProcAttr {
	if a == nil {
		return &syscall.SysProcAttr{}
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}}
}

// prepareDir gives the data directory to the account and makes sure the
// account can reach it.
func (a *account) prepareDir(dataDir string, logger *slog.Logger) error {
	if err := a.grantTraverse(filepath.Dir(dataDir), logger); err != nil {
		return err
	}
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid && st.Gid == a.gid {
			return nil
		}
		return os.Lchown(path, int(a.uid), int(a.gid))
	})
	if err != nil {
		return fmt.Errorf("pglocal: give data directory to user postgres: %w", err)
	}
	return nil
}

// grantTraverse adds the search (x) permission that the account lacks on dir
// and its ancestors: a repository cloned into a 0700 directory would
// otherwise hide the data directory from the server. Search alone lets the
// account pass through a directory, not list or read it.
func (a *account) grantTraverse(dir string, logger *slog.Logger) error {
	for {
		info, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("pglocal: check access to %s: %w", dir, err)
		}
		if bit := a.missingSearchBit(info); bit != 0 {
			mode := info.Mode().Perm() | bit
			if err := os.Chmod(dir, mode|info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return fmt.Errorf("pglocal: let user postgres traverse %s: %w", dir, err)
			}
			logger.Info("pglocal: added search permission so that user postgres can reach the data directory",
				"dir", dir, "mode", fmt.Sprintf("%#o", mode))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// missingSearchBit returns the permission bit that would let the account
// search the directory, or 0 when it already can. Like the kernel, it looks at
// the owner bits for the owner, at the group bits for a member of the group,
// and at the other bits for everybody else.
func (a *account) missingSearchBit(info fs.FileInfo) fs.FileMode {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	perm := info.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		if perm&0o100 == 0 {
			return 0o100
		}
	case slices.Contains(a.groups, st.Gid):
		if perm&0o010 == 0 {
			return 0o010
		}
	default:
		if perm&0o001 == 0 {
			return 0o001
		}
	}
	return 0
}
