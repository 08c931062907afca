//go:build unix

package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Timeouts of the server's life cycle.
const (
	readyTimeout    = 60 * time.Second
	shutdownTimeout = 30 * time.Second
	quitTimeout     = 10 * time.Second
)

// defaultPort is the port PostgreSQL is told to use. It only names the socket
// file (.s.PGSQL.<port>): the server listens on no TCP address and its socket
// directory is private to its data directory, so the number cannot clash.
const defaultPort = 5432

// Server is a running PostgreSQL server started by Start.
type Server struct {
	logger  *slog.Logger
	binDir  string
	dataDir string
	sockDir string
	// tempSockDir is true when sockDir was made for this run (the data
	// directory's path being too long for a socket) and must be removed.
	tempSockDir bool
	port        int
	logPath     string
	logOffset   int64

	cmd     *exec.Cmd
	done    chan struct{} // closed when the server process has exited
	waitErr error         // the process's exit status, set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start starts PostgreSQL on dataDir and waits until it accepts connections.
//
// dataDir is created and initialized (initdb) when it holds no cluster yet
// (no PG_VERSION file), and reused as it is otherwise. The server log is
// appended to postgres.log in dataDir's parent directory.
//
// A server left running on the same dataDir by an earlier process (a `dev`
// that was killed, for example) is stopped cleanly (fast shutdown) before the
// new one starts, so the new server always runs with this call's settings and
// belongs to the caller, who must Stop it. A stale postmaster.pid of a process
// that is gone is left to PostgreSQL, which removes it itself.
//
// The server runs in its own process group, so that Ctrl-C in the terminal
// reaches the caller alone and the caller decides when the server stops.
func Start(ctx context.Context, dataDir string, logger *slog.Logger, opts ...Option) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	begin := time.Now()

	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("pglocal: data directory %s: %w", dataDir, err)
	}
	acct, err := serverAccount()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("pglocal: create data directory: %w", err)
	}
	// Resolve links so that the data directory compares equal to what the
	// kernel reports as a leftover server's working directory.
	if real, err := filepath.EvalSymlinks(dataDir); err == nil {
		dataDir = real
	}
	binDir, err := binDirFor(dataDir)
	if err != nil {
		return nil, err
	}

	s := &Server{
		logger:  logger,
		binDir:  binDir,
		dataDir: dataDir,
		port:    defaultPort,
		logPath: filepath.Join(filepath.Dir(dataDir), "postgres.log"),
		done:    make(chan struct{}),
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pglocal: open server log: %w", err)
	}
	// The children get their own copy of the descriptor.
	defer logFile.Close()
	if fi, err := logFile.Stat(); err == nil {
		s.logOffset = fi.Size()
	}
	fmt.Fprintf(logFile, "\n=== pglocal: starting PostgreSQL at %s ===\n", time.Now().Format(time.RFC3339))

	if acct != nil {
		if err := acct.prepareDir(dataDir, logger); err != nil {
			return nil, err
		}
	}
	if err := s.stopLeftover(ctx); err != nil {
		return nil, err
	}
	if err := s.initdb(ctx, acct, logFile, o); err != nil {
		return nil, err
	}
	if err := s.chooseSocketDir(acct); err != nil {
		return nil, err
	}
	if err := s.startProcess(acct, logFile, o); err != nil {
		s.removeTempSockDir()
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	logger.Info("pglocal: PostgreSQL started",
		"dir", dataDir, "socket_dir", s.sockDir, "pid", s.cmd.Process.Pid,
		"duration", time.Since(begin).Round(time.Millisecond))
	return s, nil
}

// binDirFor prefers the binaries of the version that created dataDir, so that
// a machine with several versions installed keeps using the right one.
func binDirFor(dataDir string) (string, error) {
	if v, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		dir := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(v)), "bin")
		if hasServerBinaries(dir) {
			return dir, nil
		}
	}
	dir, err := FindBinDir()
	if err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	return dir, nil
}

// initdb creates the cluster unless dataDir already holds one.
func (s *Server) initdb(ctx context.Context, acct *account, logFile *os.File, o options) error {
	if _, err := os.Stat(filepath.Join(s.dataDir, "PG_VERSION")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(s.dataDir)
	if err != nil {
		return fmt.Errorf("pglocal: read data directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("pglocal: data directory %s is not empty but holds no PostgreSQL cluster (no PG_VERSION); remove it or choose another", s.dataDir)
	}
	// PostgreSQL refuses a data directory that others can read.
	if err := os.Chmod(s.dataDir, 0o700); err != nil {
		return fmt.Errorf("pglocal: data directory permissions: %w", err)
	}
	s.logger.Info("pglocal: initializing PostgreSQL data directory", "dir", s.dataDir)
	args := []string{
		"-D", s.dataDir,
		"--auth=trust",
		"--username=" + superuser,
		"--encoding=UTF8",
		"--locale=C",
		"--no-instructions",
	}
	if o.fast {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, "initdb"), args...)
	cmd.Dir = s.dataDir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = acct.sysProcAttr()
	if err := cmd.Run(); err != nil {
		// The directory was empty before, so a half-made cluster can go: the
		// next Start then initializes afresh instead of refusing the directory.
		if entries, rerr := os.ReadDir(s.dataDir); rerr == nil {
			for _, e := range entries {
				os.RemoveAll(filepath.Join(s.dataDir, e.Name()))
			}
		}
		return fmt.Errorf("pglocal: initdb %s: %w%s", s.dataDir, err, s.logTail())
	}
	return nil
}

// chooseSocketDir puts the socket in the data directory when its path fits
// the 107 bytes of a unix socket address (and PostgreSQL's list syntax), and
// in a fresh short directory under the temporary directory otherwise.
func (s *Server) chooseSocketDir(acct *account) error {
	if socketDirUsable(s.dataDir, s.port) {
		s.sockDir = s.dataDir
		return nil
	}
	for _, base := range []string{os.TempDir(), "/tmp"} {
		dir, err := os.MkdirTemp(base, "pg")
		if err != nil {
			continue
		}
		if !socketDirUsable(dir, s.port) {
			os.Remove(dir)
			continue
		}
		if acct != nil {
			if err := os.Chown(dir, int(acct.uid), int(acct.gid)); err != nil {
				os.Remove(dir)
				return fmt.Errorf("pglocal: socket directory: %w", err)
			}
		}
		s.sockDir = dir
		s.tempSockDir = true
		return nil
	}
	return fmt.Errorf("pglocal: no directory short enough for the server's unix socket (data directory %s is too long)", s.dataDir)
}

// socketDirUsable reports whether dir can hold the socket: the whole socket
// path must stay under sizeof(sun_path) = 108 bytes, and the directory must
// not need quoting in unix_socket_directories.
func socketDirUsable(dir string, port int) bool {
	path := filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", port))
	return len(path) < 108 && !strings.ContainsAny(dir, ", \"'\\\t\n")
}

func (s *Server) startProcess(acct *account, logFile *os.File, o options) error {
	args := []string{
		"-D", s.dataDir,
		"-p", fmt.Sprint(s.port),
		"-c", "listen_addresses=",
		"-c", "unix_socket_directories=" + s.sockDir,
		// The log goes to our file through stderr, whatever postgresql.conf says.
		"-c", "logging_collector=off",
	}
	if o.fast {
		args = append(args,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
		)
	}
	cmd := exec.Command(filepath.Join(s.binDir, "postgres"), args...)
	cmd.Dir = s.dataDir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = acct.sysProcAttr()
	// Its own process group keeps terminal signals (Ctrl-C) away from it.
	cmd.SysProcAttr.Setpgid = true
	if o.stopWithParent {
		setParentDeathSignal(cmd.SysProcAttr, syscall.SIGINT)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pglocal: start postgres: %w", err)
	}
	s.cmd = cmd
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	return nil
}

// waitReady connects until the server accepts connections, it exits, or the
// time is up.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	url := s.URL("postgres")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("pglocal: postgres exited while starting (%v)%s", s.waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("pglocal: postgres did not accept connections (last error: %v): %w%s", lastErr, ctx.Err(), s.logTail())
		case <-tick.C:
		}
		// Connecting before the socket exists only fills lastErr with noise.
		if _, err := os.Stat(filepath.Join(s.sockDir, fmt.Sprintf(".s.PGSQL.%d", s.port))); err != nil {
			continue
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(attempt, url)
		cancelAttempt()
		if err == nil {
			return conn.Close(ctx)
		}
		lastErr = err
	}
}

// URL returns a pgx-compatible URL of database dbname over the server's unix
// socket, for example postgres://postgres@/app?host=%2Ftmp%2Fpg1&port=5432.
func (s *Server) URL(dbname string) string {
	return serverURL(s.sockDir, s.port, dbname)
}

// DataDir returns the absolute path of the server's data directory.
func (s *Server) DataDir() string { return s.dataDir }

// LogPath returns the path of the file the server writes its log to.
func (s *Server) LogPath() string { return s.logPath }

// CreateDatabase creates database name, copied from template (PostgreSQL's
// default template when template is ""). It returns an error wrapping
// ErrDatabaseExists when the database exists already.
func (s *Server) CreateDatabase(ctx context.Context, name, template string) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("pglocal: create database %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
			return fmt.Errorf("pglocal: create database %s: %w", name, ErrDatabaseExists)
		}
		return fmt.Errorf("pglocal: create database %s: %w", name, err)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: open sessions are cancelled,
// data is flushed) and waits for it to exit. When the server takes too long or
// ctx ends, it escalates to an immediate shutdown and then to SIGKILL; the
// next Start recovers from either. Stopping twice is harmless.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopErr = s.stop(ctx)
		s.removeTempSockDir()
	})
	return s.stopErr
}

func (s *Server) stop(ctx context.Context) error {
	begin := time.Now()
	steps := []struct {
		sig     syscall.Signal
		timeout time.Duration
	}{
		{syscall.SIGINT, shutdownTimeout}, // fast shutdown
		{syscall.SIGQUIT, quitTimeout},    // immediate shutdown
		{syscall.SIGKILL, quitTimeout},
	}
	for i, step := range steps {
		select {
		case <-s.done:
			s.logger.Info("pglocal: PostgreSQL stopped", "dir", s.dataDir, "duration", time.Since(begin).Round(time.Millisecond))
			return nil
		default:
		}
		if err := s.cmd.Process.Signal(step.sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("pglocal: stop postgres: %w", err)
		}
		timer := time.NewTimer(step.timeout)
		select {
		case <-s.done:
			timer.Stop()
			if i > 0 {
				s.logger.Warn("pglocal: PostgreSQL had to be stopped forcibly", "dir", s.dataDir, "signal", step.sig.String())
			} else {
				s.logger.Info("pglocal: PostgreSQL stopped", "dir", s.dataDir, "duration", time.Since(begin).Round(time.Millisecond))
			}
			return nil
		case <-ctx.Done():
			// The caller wants out: escalate now rather than wait out the timeout.
			timer.Stop()
			ctx = context.WithoutCancel(ctx)
		case <-timer.C:
		}
	}
	return fmt.Errorf("pglocal: postgres (pid %d) did not exit", s.cmd.Process.Pid)
}

func (s *Server) removeTempSockDir() {
	if s.tempSockDir && s.sockDir != "" {
		os.RemoveAll(s.sockDir)
	}
}

// logTail returns the end of what the server logged during this Start, for
// error messages.
func (s *Server) logTail() string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 4000
	start := s.logOffset
	if fi, err := f.Stat(); err == nil && fi.Size()-start > max {
		start = fi.Size() - max
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return ""
	}
	b, err := io.ReadAll(f)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return ""
	}
	return fmt.Sprintf("\n--- end of %s ---\n%s", s.logPath, strings.TrimRight(string(b), "\n"))
}

// stopLeftover stops a server still running on the data directory, started by
// an earlier process that did not stop it, and removes a postmaster.pid whose
// process id now belongs to an unrelated process (PostgreSQL would refuse to
// start because of it).
func (s *Server) stopLeftover(ctx context.Context) error {
	pidPath := filepath.Join(s.dataDir, "postmaster.pid")
	pid, err := readPIDFile(pidPath)
	if err != nil || pid <= 0 || !processAlive(pid) {
		// No file, or a process that is gone: PostgreSQL removes a stale file itself.
		return nil
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		// No /proc (not Linux) or no right to look: leave the judgement to
		// PostgreSQL, which names the running server in its error.
		return nil
	}
	if cwd != s.dataDir {
		// Every PostgreSQL process works in its data directory, so this is an
		// unrelated process that inherited the id after a reboot.
		s.logger.Warn("pglocal: removing stale postmaster.pid", "dir", s.dataDir, "pid", pid)
		if err := os.Remove(pidPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("pglocal: remove stale postmaster.pid: %w", err)
		}
		return nil
	}
	s.logger.Warn("pglocal: stopping a PostgreSQL server left running on the data directory by an earlier run", "dir", s.dataDir, "pid", pid)
	for _, step := range []struct {
		sig     syscall.Signal
		timeout time.Duration
	}{
		{syscall.SIGINT, shutdownTimeout},
		{syscall.SIGQUIT, quitTimeout},
		{syscall.SIGKILL, quitTimeout},
	} {
		if err := syscall.Kill(pid, step.sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("pglocal: stop leftover postgres (pid %d): %w", pid, err)
		}
		deadline := time.Now().Add(step.timeout)
		for processAlive(pid) && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("pglocal: stop leftover postgres (pid %d): %w", pid, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
		if !processAlive(pid) {
			return nil
		}
	}
	return fmt.Errorf("pglocal: leftover postgres (pid %d) on %s did not exit", pid, s.dataDir)
}
