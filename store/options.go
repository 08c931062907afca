package store

import (
	"github.com/jackc/pgx/v5"

	"migrantbot/sealed"
)

// Option changes how Open sets up a Store.
type Option func(*config)

// config is what the Options of Open set.
type config struct {
	tracer pgx.QueryTracer
	keys   *sealed.Keyring
}

// WithTracer traces every query of the store's connections, as the load
// command does to count database round trips per update.
func WithTracer(t pgx.QueryTracer) Option {
	return func(c *config) { c.tracer = t }
}

// WithKeys gives the store the keyring that seals personal data on write and
// opens it on read. Open refuses to start without one.
func WithKeys(k *sealed.Keyring) Option {
	return func(c *config) { c.keys = k }
}
