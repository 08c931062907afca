// Package sealed owns the encryption of personal data at rest: a Keyring of
// AES-256-GCM keys (the current one, which seals, and previous ones, which
// still open values sealed before a rotation), the self-describing form in
// which a sealed value is stored, and the keyed tokens that let the database
// index words it cannot read.
//
// A sealed value is the string
//
//	enc:v1:<key id>:<base64url of nonce || ciphertext || tag>
//
// where the key id (8 hex characters) names the key and is bound to the
// ciphertext as additional data, so a value cannot be passed off as sealed
// under another key. A stored value without the enc:v1: prefix is plain text
// written before encryption was introduced: Open returns it as it is, and a
// rotation seals it. The empty string stays empty in both directions: it
// carries no personal data, and the schema's empty defaults keep meaning "not
// given".
//
// Errors never contain plaintext, ciphertext or key material.
package sealed

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of a data key in bytes (AES-256).
const KeySize = 32

// Prefix starts every sealed value; anything else is plain text.
const Prefix = "enc:v1:"

// idLen is the length of a key id in hex characters.
const idLen = 8

// Errors of Open. They say what is wrong with a value, never what it holds.
var (
	// ErrUnknownKey is returned for a value sealed under a key the keyring
	// does not hold.
	ErrUnknownKey = errors.New("sealed: value sealed under a key not in the keyring")
	// ErrCorrupt is returned for a value that is not a well-formed sealed
	// value, or whose authentication fails (tampered with, or cut).
	ErrCorrupt = errors.New("sealed: value is corrupt or was tampered with")
)

// key is one AES-256-GCM key with its id.
type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring seals under its current key and opens values sealed under any of
// its keys. It is safe for concurrent use.
type Keyring struct {
	current key
	byID    map[string]cipher.AEAD
	// index is the HMAC key of search tokens, derived from the current key.
	index []byte
	// previousIndex are the HMAC keys of the previous keys, newest first.
	previousIndex [][]byte
}

// New makes a keyring that seals under current and also opens values sealed
// under any of previous. Every key must be KeySize bytes.
func New(current []byte, previous ...[]byte) (*Keyring, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, fmt.Errorf("sealed: current key: %w", err)
	}
	idx, err := indexKey(current)
	if err != nil {
		return nil, err
	}
	k := &Keyring{current: cur, byID: map[string]cipher.AEAD{cur.id: cur.aead}, index: idx}
	for i, p := range previous {
		pk, err := newKey(p)
		if err != nil {
			return nil, fmt.Errorf("sealed: previous key %d: %w", i+1, err)
		}
		if _, dup := k.byID[pk.id]; dup {
			continue
		}
		k.byID[pk.id] = pk.aead
		pidx, err := indexKey(p)
		if err != nil {
			return nil, err
		}
		k.previousIndex = append(k.previousIndex, pidx)
	}
	return k, nil
}

// Parse makes a keyring from the text of DATA_KEY (one key in standard
// base64) and of DATA_KEY_PREVIOUS (none, one, or several comma-separated
// keys in standard base64). Its errors name which key is malformed, never
// its value.
func Parse(current, previous string) (*Keyring, error) {
	cur, err := decodeKey(current)
	if err != nil {
		return nil, fmt.Errorf("sealed: DATA_KEY: %w", err)
	}
	var prev [][]byte
	if strings.TrimSpace(previous) != "" {
		for i, p := range strings.Split(previous, ",") {
			b, err := decodeKey(p)
			if err != nil {
				return nil, fmt.Errorf("sealed: DATA_KEY_PREVIOUS key %d: %w", i+1, err)
			}
			prev = append(prev, b)
		}
	}
	return New(cur, prev...)
}

// decodeKey reads one key in standard base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("missing: set it to 32 random bytes in base64 (openssl rand -base64 32)")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
			// The decoder's error quotes the offending byte's offset only.
			return nil, errors.New("not valid base64")
		}
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("is %d bytes, want %d", len(b), KeySize)
	}
	return b, nil
}

// NewKey returns a new random key in the base64 form Parse reads.
func NewKey() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("sealed: new key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func newKey(raw []byte) (key, error) {
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("is %d bytes, want %d", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("gcm: %w", err)
	}
	return key{id: KeyID(raw), aead: aead}, nil
}

// KeyID returns the short stable id of a key: the first 8 hex characters of
// SHA-256("migrantbot key id" || key). It reveals nothing usable about the
// key and names it in stored values and in logs.
func KeyID(raw []byte) string {
	h := sha256.New()
	h.Write([]byte("migrantbot key id"))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))[:idLen]
}

// indexKey derives the HMAC key of search tokens from a data key, so that
// one secret is configured and a rotation renews both.
func indexKey(raw []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, raw, nil, "migrantbot search index v1", sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("sealed: derive index key: %w", err)
	}
	return k, nil
}

// CurrentID returns the id of the key that Seal uses.
func (k *Keyring) CurrentID() string { return k.current.id }

// Seal encrypts plain under the current key with a fresh random nonce and
// returns its stored form. The empty string stays empty.
func (k *Keyring) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	aead := k.current.aead
	ns := aead.NonceSize()
	buf := make([]byte, ns, ns+len(plain)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("sealed: nonce: %w", err)
	}
	buf = aead.Seal(buf, buf[:ns], []byte(plain), []byte(k.current.id))
	var sb strings.Builder
	sb.Grow(len(Prefix) + idLen + 1 + base64.RawURLEncoding.EncodedLen(len(buf)))
	sb.WriteString(Prefix)
	sb.WriteString(k.current.id)
	sb.WriteByte(':')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(buf))
	return sb.String(), nil
}

// Open returns the plain text of a stored value: a sealed value decrypted
// with the key its id names, or a plain value (written before encryption)
// as it is. It returns ErrUnknownKey for a key the keyring lacks and
// ErrCorrupt for a malformed or tampered value.
func (k *Keyring) Open(stored string) (string, error) {
	if !strings.HasPrefix(stored, Prefix) {
		return stored, nil
	}
	rest := stored[len(Prefix):]
	if len(rest) < idLen+1 || rest[idLen] != ':' {
		return "", ErrCorrupt
	}
	id, body := rest[:idLen], rest[idLen+1:]
	aead, ok := k.byID[id]
	if !ok {
		return "", fmt.Errorf("%w (key id %s)", ErrUnknownKey, sanitizeID(id))
	}
	buf, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(buf) < aead.NonceSize()+aead.Overhead() {
		return "", ErrCorrupt
	}
	ns := aead.NonceSize()
	plain, err := aead.Open(buf[ns:ns], buf[:ns], buf[ns:], []byte(id))
	if err != nil {
		return "", ErrCorrupt
	}
	return string(plain), nil
}

// sanitizeID keeps a key id from a stored value fit for an error: hex only.
func sanitizeID(id string) string {
	if _, err := hex.DecodeString(id); err != nil {
		return "(malformed)"
	}
	return id
}

// Current reports whether a stored value needs no rotation: it is empty or
// sealed under the current key. A plain value or one sealed under a
// previous key is not current.
func (k *Keyring) Current(stored string) bool {
	return stored == "" || strings.HasPrefix(stored, Prefix+k.current.id+":")
}

// SealJSON seals a JSON document for a jsonb column: the result is a JSON
// string holding the sealed form, itself valid JSON. An empty document
// stays empty.
func (k *Keyring) SealJSON(doc []byte) ([]byte, error) {
	if len(doc) == 0 {
		return doc, nil
	}
	s, err := k.Seal(string(doc))
	if err != nil {
		return nil, err
	}
	// The sealed form has only [a-z0-9:_-], which JSON needs no escape for.
	out := make([]byte, 0, len(s)+2)
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"'), nil
}

// OpenJSON returns the JSON document a jsonb column holds: the document
// SealJSON sealed, or the column's value as it is when it is a plain
// document written before encryption.
func (k *Keyring) OpenJSON(stored []byte) ([]byte, error) {
	s, ok := sealedJSON(stored)
	if !ok {
		return stored, nil
	}
	plain, err := k.Open(s)
	if err != nil {
		return nil, err
	}
	return []byte(plain), nil
}

// CurrentJSON is Current for a jsonb value.
func (k *Keyring) CurrentJSON(stored []byte) bool {
	if len(stored) == 0 {
		return true
	}
	s, ok := sealedJSON(stored)
	return ok && k.Current(s)
}

// sealedJSON returns the sealed form inside a JSON string, if stored is one.
// PostgreSQL returns jsonb as text, possibly with surrounding spaces.
func sealedJSON(stored []byte) (string, bool) {
	stored = bytes.TrimSpace(stored)
	if len(stored) < len(Prefix)+2 || stored[0] != '"' || stored[len(stored)-1] != '"' {
		return "", false
	}
	inner := stored[1 : len(stored)-1]
	if !bytes.HasPrefix(inner, []byte(Prefix)) {
		return "", false
	}
	return string(inner), true
}

// tokenLen is the length of a search token in hex characters (64 bits):
// collisions among the words of appeals are then negligible.
const tokenLen = 16

// Token returns the search token of a word (already folded by the caller):
// HMAC-SHA256 under the index key of the current key, cut to 16 hex
// characters. Equal words give equal tokens; the database learns which
// appeals share a word, not the word.
func (k *Keyring) Token(word string) string {
	return token(k.index, word)
}

// PreviousTokens returns the tokens of a word under the previous keys, for
// searching rows a rotation has not reached yet.
func (k *Keyring) PreviousTokens(word string) []string {
	out := make([]string, len(k.previousIndex))
	for i, idx := range k.previousIndex {
		out[i] = token(idx, word)
	}
	return out
}

func token(idx []byte, word string) string {
	m := hmac.New(sha256.New, idx)
	m.Write([]byte(word))
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0]))[:tokenLen]
}
