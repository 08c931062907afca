package bot

import (
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxTextLength is how long a Telegram message may be: 4096 characters of
// the text after entity parsing, counted in UTF-16 code units.
const MaxTextLength = 4096

// telegramTags are the HTML tags of Telegram's parse_mode=HTML.
var telegramTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true,
	"s": true, "strike": true, "del": true, "a": true, "code": true, "pre": true,
	"tg-spoiler": true, "span": true, "blockquote": true, "tg-emoji": true,
}

type tokenKind int

const (
	tokText  tokenKind = iota // one character, written out or as an entity
	tokStart                  // <tag ...>
	tokEnd                    // </tag>
)

// token is one indivisible piece of a message text: a character (a rune or
// an HTML entity) or a tag. Splitting only ever happens between tokens, so
// never inside a tag or an entity.
type token struct {
	kind  tokenKind
	raw   string
	name  string // tag name, lower case
	r     rune   // the character a text token shows
	units int    // UTF-16 code units the token adds to the parsed text
}

// errBadHTML is wrapped by every tokenize error. The errors give byte
// offsets only, never the text, as they end up in logs.
var errBadHTML = errors.New("not valid Telegram HTML")

// tokenize reads text in Telegram's HTML subset, checking what Telegram
// checks: known tags only, properly nested and closed, and every '&' part of
// an entity.
func tokenize(text string) ([]token, error) {
	var toks []token
	var open []string
	for i := 0; i < len(text); {
		switch text[i] {
		case '<':
			end := tagEnd(text, i)
			if end < 0 {
				return nil, fmt.Errorf("%w: unclosed tag at byte %d", errBadHTML, i)
			}
			raw := text[i : end+1]
			if strings.HasPrefix(raw, "</") {
				name := strings.ToLower(strings.TrimSpace(raw[2 : len(raw)-1]))
				if len(open) == 0 || open[len(open)-1] != name {
					return nil, fmt.Errorf("%w: unmatched end tag at byte %d", errBadHTML, i)
				}
				open = open[:len(open)-1]
				toks = append(toks, token{kind: tokEnd, raw: raw, name: name})
			} else {
				name := raw[1 : len(raw)-1]
				if sp := strings.IndexFunc(name, unicode.IsSpace); sp >= 0 {
					name = name[:sp]
				}
				name = strings.ToLower(name)
				if !telegramTags[name] {
					return nil, fmt.Errorf("%w: unsupported tag at byte %d", errBadHTML, i)
				}
				for j := strings.IndexByte(raw, '&'); j >= 0; j = nextAmp(raw, j) {
					if _, n := entityAt(raw[j:]); n == 0 {
						return nil, fmt.Errorf("%w: unescaped '&' in a tag at byte %d", errBadHTML, i+j)
					}
				}
				open = append(open, name)
				toks = append(toks, token{kind: tokStart, raw: raw, name: name})
			}
			i = end + 1
		case '&':
			r, n := entityAt(text[i:])
			if n == 0 {
				return nil, fmt.Errorf("%w: unescaped '&' at byte %d", errBadHTML, i)
			}
			toks = append(toks, token{kind: tokText, raw: text[i : i+n], r: r, units: utf16.RuneLen(r)})
			i += n
		default:
			r, n := utf8.DecodeRuneInString(text[i:])
			units := utf16.RuneLen(r)
			if units < 0 {
				units = 1
			}
			toks = append(toks, token{kind: tokText, raw: text[i : i+n], r: r, units: units})
			i += n
		}
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%w: unclosed tag <%s>", errBadHTML, open[len(open)-1])
	}
	return toks, nil
}

// nextAmp returns the index of the next '&' in s after j, or -1.
func nextAmp(s string, j int) int {
	k := strings.IndexByte(s[j+1:], '&')
	if k < 0 {
		return -1
	}
	return j + 1 + k
}

// tagEnd returns the index of the '>' that ends the tag starting at i,
// skipping quoted attribute values, or -1.
func tagEnd(text string, i int) int {
	var quote byte
	for j := i + 1; j < len(text); j++ {
		switch c := text[j]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return j
		case c == '<':
			return -1
		}
	}
	return -1
}

// entityAt decodes the HTML entity at the start of s as Telegram does: the
// four named entities and numeric ones. It returns n = 0 when s does not
// start with one.
func entityAt(s string) (r rune, n int) {
	for _, e := range [...]struct {
		s string
		r rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}} {
		if strings.HasPrefix(s, e.s) {
			return e.r, len(e.s)
		}
	}
	if !strings.HasPrefix(s, "&#") {
		return 0, 0
	}
	end := strings.IndexByte(s, ';')
	if end < 3 || end > 12 {
		return 0, 0
	}
	digits, base := s[2:end], 10
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || v == 0 || v > unicode.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, 0
	}
	return rune(v), end + 1
}

// splitHTML cuts text into parts of at most limit characters each (as
// Telegram counts them), preferring paragraph breaks, then line breaks, then
// spaces, and never cutting inside a tag or an entity. A tag open at a cut
// is closed at the end of its part and opened again at the start of the
// next. Parts that would show nothing but white space are left out.
func splitHTML(text string, limit int) ([]string, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, err
	}
	cum := make([]int, len(toks)+1) // cum[i]: units of toks[:i]
	for i, t := range toks {
		cum[i+1] = cum[i] + t.units
	}
	var cuts []int
	for start := 0; cum[len(toks)]-cum[start] > limit; {
		end := start
		for end < len(toks) && cum[end+1]-cum[start] <= limit {
			end++
		}
		cut := chooseCut(toks, cum, start, end, limit)
		cuts = append(cuts, cut)
		start = cut
	}
	return assemble(toks, cuts), nil
}

// chooseCut picks where to end a part that may run from start up to end
// (exclusive): after a blank line, a line break or a space, in that order of
// preference, as long as the part keeps at least half the limit; failing
// that the latest such break at all; failing that a hard cut at end.
func chooseCut(toks []token, cum []int, start, end, limit int) int {
	isChar := func(i int, r rune) bool { return i >= start && toks[i].kind == tokText && toks[i].r == r }
	breaks := []func(i int) bool{
		func(i int) bool { return isChar(i-1, '\n') && lastCharBefore(toks, start, i-1) == '\n' },
		func(i int) bool { return isChar(i-1, '\n') },
		func(i int) bool { return isChar(i-1, ' ') || isChar(i-1, '\t') },
	}
	for _, minUnits := range []int{limit / 2, 1} {
		for _, isBreak := range breaks {
			for i := end; i > start; i-- {
				if cum[i]-cum[start] < minUnits {
					break
				}
				if isBreak(i) {
					return i
				}
			}
		}
	}
	if end == start {
		end = start + 1 // a single character wider than the limit cannot be helped
	}
	return end
}

// lastCharBefore returns the character shown just before toks[i], skipping
// tags, or 0.
func lastCharBefore(toks []token, start, i int) rune {
	for j := i - 1; j >= start; j-- {
		if toks[j].kind == tokText {
			return toks[j].r
		}
	}
	return 0
}

// assemble writes the parts between cuts, closing the tags open at each cut
// and reopening them in the next part.
func assemble(toks []token, cuts []int) []string {
	var parts []string
	var open []token
	start := 0
	for _, end := range append(cuts, len(toks)) {
		var b strings.Builder
		for _, t := range open {
			b.WriteString(t.raw)
		}
		visible := false
		for _, t := range toks[start:end] {
			b.WriteString(t.raw)
			switch t.kind {
			case tokStart:
				open = append(open, t)
			case tokEnd:
				open = open[:len(open)-1]
			default:
				visible = visible || !unicode.IsSpace(t.r)
			}
		}
		for i := len(open) - 1; i >= 0; i-- {
			b.WriteString("</" + open[i].name + ">")
		}
		if visible {
			parts = append(parts, b.String())
		}
		start = end
	}
	return parts
}

// splitLastLine cuts a text in two at its last line break, so that a reply
// keyboard and an inline keyboard, which cannot share a message, can go on
// one part each. ok is false when there is no line break with something
// visible on both sides.
func splitLastLine(text string) (first, second string, ok bool) {
	toks, err := tokenize(text)
	if err != nil {
		return "", "", false
	}
	for i := len(toks) - 1; i > 0; i-- {
		if toks[i-1].kind != tokText || toks[i-1].r != '\n' {
			continue
		}
		if parts := assemble(toks, []int{i}); len(parts) == 2 {
			return parts[0], parts[1], true
		}
	}
	return "", "", false
}

// plainFallback turns text that is not valid Telegram HTML into escaped plain
// text, dropping anything that looks like a tag, so that the person still
// gets the message.
func plainFallback(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		switch text[i] {
		case '<':
			if end := strings.IndexByte(text[i:], '>'); end > 0 {
				i += end + 1
				continue
			}
		case '&':
			if r, n := entityAt(text[i:]); n > 0 {
				b.WriteRune(r)
				i += n
				continue
			}
		}
		b.WriteByte(text[i])
		i++
	}
	return html.EscapeString(strings.ToValidUTF8(b.String(), "\uFFFD"))
}
