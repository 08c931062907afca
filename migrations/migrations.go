// Package migrations holds the database schema as numbered SQL files in
// goose's format, embedded in the binary. store.Migrate applies them.
//
// Add a change as a new file with the next number (002_name.sql) holding a
// "-- +goose Up" and a "-- +goose Down" section; never edit a file that has
// been released, because databases record which versions they have applied.
package migrations

import "embed"

// FS holds the migration files.
//
//go:embed *.sql
var FS embed.FS
