//go:build !unix

package pglocal

import (
	"context"
	"errors"
	"log/slog"
)

var errUnsupported = errors.New("pglocal: running a private PostgreSQL is supported on Unix systems only; set DATABASE_URL instead")

// Server is a running PostgreSQL server; on this system none can be started.
type Server struct{}

// Start fails: running a private PostgreSQL needs a Unix system.
func Start(ctx context.Context, dataDir string, logger *slog.Logger, opts ...Option) (*Server, error) {
	return nil, errUnsupported
}

// URL returns "": no server runs on this system.
func (s *Server) URL(dbname string) string { return "" }

// DataDir returns "": no server runs on this system.
func (s *Server) DataDir() string { return "" }

// LogPath returns "": no server runs on this system.
func (s *Server) LogPath() string { return "" }

// CreateDatabase fails: no server runs on this system.
func (s *Server) CreateDatabase(ctx context.Context, name, template string) error {
	return errUnsupported
}

// Stop does nothing: no server runs on this system.
func (s *Server) Stop(ctx context.Context) error { return nil }
