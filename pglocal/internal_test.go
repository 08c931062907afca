//go:build unix

package pglocal

import (
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestServerURL(t *testing.T) {
	url := serverURL("/tmp/pg 1", 5433, "app")
	if want := "postgres://postgres@/app?host=%2Ftmp%2Fpg%201&port=5433"; url != want {
		t.Errorf("serverURL: got %q, want %q", url, want)
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatalf("pgx.ParseConfig(%q): %v", url, err)
	}
	if cfg.Host != "/tmp/pg 1" || cfg.Port != 5433 || cfg.Database != "app" || cfg.User != "postgres" {
		t.Errorf("parsed: host %q port %d database %q user %q", cfg.Host, cfg.Port, cfg.Database, cfg.User)
	}
}

func TestSocketDirUsable(t *testing.T) {
	tests := []struct {
		dir  string
		want bool
	}{
		{"/work/main/.data/postgres", true},
		{"/" + strings.Repeat("a", 92), true}, // 93 + 14 = 107 bytes, the most that fits
		{"/" + strings.Repeat("a", 93), false},
		{"/tmp/with space", false},
		{"/tmp/with,comma", false},
	}
	for _, tc := range tests {
		if got := socketDirUsable(tc.dir, 5432); got != tc.want {
			t.Errorf("socketDirUsable(%q): got %v, want %v", tc.dir, got, tc.want)
		}
	}
}

func TestMissingSearchBit(t *testing.T) {
	a := &account{uid: 101, gid: 104, groups: []uint32{104, 103}}
	tests := []struct {
		name     string
		uid, gid uint32
		perm     fs.FileMode
		want     fs.FileMode
	}{
		{"owner can", 101, 0, 0o700, 0},
		{"owner cannot", 101, 0, 0o600, 0o100},
		{"group can", 0, 103, 0o710, 0},
		{"group cannot, others can", 0, 104, 0o701, 0o010},
		{"other can", 0, 0, 0o711, 0},
		{"other cannot", 0, 0, 0o700, 0o001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := fakeInfo{perm: tc.perm, st: syscall.Stat_t{Uid: tc.uid, Gid: tc.gid}}
			if got := a.missingSearchBit(info); got != tc.want {
				t.Errorf("got %#o, want %#o", got, tc.want)
			}
		})
	}
}

type fakeInfo struct {
	perm fs.FileMode
	st   syscall.Stat_t
}

func (f fakeInfo) Name() string       { return "dir" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return fs.ModeDir | f.perm }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return true }
func (f fakeInfo) Sys() any           { return &f.st }
