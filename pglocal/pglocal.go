// Package pglocal runs a private PostgreSQL server from the installed server
// binaries, for `migrantbot dev` and for tests that need a real database.
//
// The server listens on a unix socket only, keeps its data in a directory that
// is reused across runs, and writes its log to postgres.log beside that
// directory. When the process runs as root, the server runs as the `postgres`
// system user, because PostgreSQL refuses to run as root.
package pglocal

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// superuser is the name of the superuser role initdb creates. A fixed name keeps
// URLs the same whichever OS user started the server.
const superuser = "postgres"

// ErrDatabaseExists is returned (wrapped) by CreateDatabase when the database
// already exists, so that callers such as `dev` can treat it as success.
var ErrDatabaseExists = errors.New("database already exists")

// Option changes how Start runs the server.
type Option func(*options)

type options struct {
	fast           bool
	stopWithParent bool
}

// Fast turns off durability (fsync, synchronous_commit, full_page_writes) and
// runs initdb without syncing. It is meant for throwaway test servers only: a
// crash of the machine can corrupt the data.
func Fast() Option { return func(o *options) { o.fast = true } }

// StopWithParent asks the kernel to stop the server (fast shutdown) when the
// process that started it dies, so that a test binary killed by a timeout does
// not leave a server behind. It has an effect on Linux only.
func StopWithParent() Option { return func(o *options) { o.stopWithParent = true } }

// serverURL builds a pgx-compatible URL that reaches the server over its unix
// socket.
func serverURL(sockDir string, port int, dbname string) string {
	// pgx reads a "+" in the query as itself, not as a space, so spaces are
	// escaped as %20.
	host := strings.ReplaceAll(url.QueryEscape(sockDir), "+", "%20")
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Path:     "/" + dbname,
		RawQuery: "host=" + host + "&port=" + strconv.Itoa(port),
	}
	return u.String()
}
