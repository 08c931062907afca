package sealed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// Fold makes text comparable for search, as the database's search_fold did:
// lower case, the combining dot above (U+0307) dropped and the dotless ı
// taken for an i, because the capital I stands for both: "İSMAYILOV",
// "Ismayilov" and "İsmayılov" all meet.
func Fold(text string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\u0307':
			return -1
		case 'ı':
			return 'i'
		}
		return unicode.ToLower(r)
	}, text)
}

// maxWordBytes is the longest word indexed; PostgreSQL's parser drops
// longer ones too (2047 bytes), and no name or real word comes close.
const maxWordBytes = 2047

// Words splits folded text into its words the way to_tsvector('simple')
// mostly does: runs of letters, digits and combining marks; a run of such
// words joined by single hyphens ("qarabağ-li") counts as a word of its own
// besides its parts. Everything else separates. Duplicates are kept once,
// in order of first appearance.
func Words(text string) []string {
	var (
		words []string
		seen  = map[string]bool{}
	)
	add := func(w string) {
		if w == "" || len(w) > maxWordBytes || seen[w] {
			return
		}
		seen[w] = true
		words = append(words, w)
	}
	isWord := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) }
	// Split at anything that is neither a word character nor a hyphen, then
	// each hyphenated chunk into its parts.
	for _, chunk := range strings.FieldsFunc(text, func(r rune) bool { return !isWord(r) && r != '-' }) {
		parts := strings.Split(chunk, "-")
		compound := len(parts) > 1
		for _, p := range parts {
			if p == "" {
				// A leading, trailing or doubled hyphen is no compound.
				compound = false
			}
		}
		if compound {
			add(chunk)
		}
		for _, p := range parts {
			add(p)
		}
	}
	return words
}

// Tokens returns the search tokens of the words of text (folded here),
// distinct, under the current key.
func (k *Keyring) Tokens(text string) []string {
	words := Words(Fold(text))
	out := make([]string, 0, len(words))
	seen := make(map[string]bool, len(words))
	// One HMAC, reset per word: setting one up costs more than hashing a
	// word.
	m := hmac.New(sha256.New, k.index)
	var sum [sha256.Size]byte
	for _, w := range words {
		m.Reset()
		m.Write([]byte(w))
		t := hex.EncodeToString(m.Sum(sum[:0]))[:tokenLen]
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
