package telegramtest

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Entity is a formatting entity of a message as Telegram reports it: offsets
// and lengths are in UTF-16 code units of the parsed text.
type Entity struct {
	Type     string `json:"type"`
	Offset   int    `json:"offset"`
	Length   int    `json:"length"`
	URL      string `json:"url,omitempty"`
	Language string `json:"language,omitempty"`
}

// entityTypes maps Telegram's HTML tags to entity types.
var entityTypes = map[string]string{
	"b": "bold", "strong": "bold",
	"i": "italic", "em": "italic",
	"u": "underline", "ins": "underline",
	"s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
	"a":          "text_link",
	"code":       "code",
	"pre":        "pre",
	"tg-spoiler": "spoiler", "span": "spoiler",
	"blockquote": "blockquote",
	"tg-emoji":   "custom_emoji",
}

type openTag struct {
	name   string
	offset int // UTF-16 offset in the parsed text where the tag opened
	url    string
	lang   string
}

// ParseHTML parses text the way the Bot API parses parse_mode=HTML and returns
// the plain text with its entities, or the reason Telegram would give for
// refusing it (without the "Bad Request: can't parse entities: " prefix).
//
// It is deliberately written apart from the bot's own splitter so that the
// double is an independent judge of what the bot sends. It is stricter than
// Telegram in one way the project wants: a bare '&' that does not start an
// entity is an error, not a literal ampersand.
func ParseHTML(text string) (plain string, entities []Entity, err error) {
	var b strings.Builder
	units := 0 // UTF-16 length of b
	var stack []openTag
	write := func(r rune) {
		b.WriteRune(r)
		units += utf16.RuneLen(r)
	}
	i := 0
	for i < len(text) {
		c := text[i]
		switch c {
		case '&':
			r, n, ok := decodeEntity(text[i:])
			if !ok {
				return "", nil, fmt.Errorf("Character '&' is reserved and must be escaped as \"&amp;\" at byte offset %d", i)
			}
			write(r)
			i += n
			continue
		case '<':
		default:
			r, n := utf8.DecodeRuneInString(text[i:])
			write(r)
			i += n
			continue
		}
		begin := i
		i++
		if i < len(text) && text[i] == '/' {
			i++
			end := strings.IndexByte(text[i:], '>')
			if end < 0 {
				return "", nil, fmt.Errorf("Unclosed end tag at byte offset %d", begin)
			}
			name := strings.ToLower(strings.TrimRight(text[i:i+end], " \t\n\r"))
			i += end + 1
			if len(stack) == 0 {
				return "", nil, fmt.Errorf("Unexpected end tag at byte offset %d", begin)
			}
			top := stack[len(stack)-1]
			if name != top.name {
				return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", begin, top.name, name)
			}
			stack = stack[:len(stack)-1]
			if length := units - top.offset; length > 0 {
				e := Entity{Type: entityTypes[top.name], Offset: top.offset, Length: length, URL: top.url, Language: top.lang}
				if e.Type == "text_link" && e.URL == "" {
					continue // Telegram drops a link without an address
				}
				if e.Type == "pre" && top.lang != "" {
					e.Language = top.lang
				}
				entities = append(entities, e)
			}
			continue
		}
		start := i
		for i < len(text) && !isHTMLSpace(text[i]) && text[i] != '>' {
			i++
		}
		if i == len(text) {
			return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
		}
		name := strings.ToLower(text[start:i])
		if _, ok := entityTypes[name]; !ok {
			return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, begin)
		}
		tag := openTag{name: name, offset: units}
		var class, emojiID string
		for {
			for i < len(text) && isHTMLSpace(text[i]) {
				i++
			}
			if i == len(text) {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			if text[i] == '>' {
				i++
				break
			}
			attrStart := i
			for i < len(text) && !isHTMLSpace(text[i]) && text[i] != '=' && text[i] != '>' {
				i++
			}
			attr := strings.ToLower(text[attrStart:i])
			if attr == "" {
				return "", nil, fmt.Errorf("Empty attribute name in the tag \"%s\" at byte offset %d", name, attrStart)
			}
			for i < len(text) && isHTMLSpace(text[i]) {
				i++
			}
			if i < len(text) && text[i] != '=' && name == "blockquote" && attr == "expandable" {
				continue // the one attribute Telegram accepts without a value
			}
			if i == len(text) || text[i] != '=' {
				return "", nil, fmt.Errorf("Expected equal sign in declaration of an attribute of the tag \"%s\" at byte offset %d", name, attrStart)
			}
			i++
			for i < len(text) && isHTMLSpace(text[i]) {
				i++
			}
			if i == len(text) {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
			}
			var value strings.Builder
			if q := text[i]; q == '"' || q == '\'' {
				i++
				for {
					if i == len(text) {
						return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", begin)
					}
					if text[i] == q {
						i++
						break
					}
					if text[i] == '&' {
						r, n, ok := decodeEntity(text[i:])
						if !ok {
							return "", nil, fmt.Errorf("Character '&' is reserved and must be escaped as \"&amp;\" at byte offset %d", i)
						}
						value.WriteRune(r)
						i += n
						continue
					}
					value.WriteByte(text[i])
					i++
				}
			} else {
				for i < len(text) && (isASCIIAlnum(text[i]) || text[i] == '.' || text[i] == '-') {
					value.WriteByte(text[i])
					i++
				}
			}
			switch {
			case name == "a" && attr == "href":
				tag.url = value.String()
			case name == "code" && attr == "class":
				tag.lang = strings.TrimPrefix(value.String(), "language-")
			case name == "span" && attr == "class":
				class = value.String()
			case name == "tg-emoji" && attr == "emoji-id":
				emojiID = value.String()
			}
		}
		if name == "span" && class != "tg-spoiler" {
			return "", nil, fmt.Errorf("Tag \"span\" must have class \"tg-spoiler\" at byte offset %d", begin)
		}
		if name == "tg-emoji" {
			if _, err := strconv.ParseInt(emojiID, 10, 64); err != nil {
				return "", nil, fmt.Errorf("Custom emoji entity must contain a valid custom emoji identifier at byte offset %d", begin)
			}
		}
		stack = append(stack, tag)
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", stack[len(stack)-1].name)
	}
	return b.String(), entities, nil
}

// decodeEntity decodes the HTML entity at the start of s: the four named
// entities the Bot API supports and numeric ones.
func decodeEntity(s string) (r rune, n int, ok bool) {
	for _, named := range []struct {
		s string
		r rune
	}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}} {
		if strings.HasPrefix(s, named.s) {
			return named.r, len(named.s), true
		}
	}
	if !strings.HasPrefix(s, "&#") {
		return 0, 0, false
	}
	end := strings.IndexByte(s, ';')
	if end < 3 || end > 12 {
		return 0, 0, false
	}
	digits, base := s[2:end], 10
	if digits[0] == 'x' || digits[0] == 'X' {
		digits, base = digits[1:], 16
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil || v == 0 || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
		return 0, 0, false
	}
	return rune(v), end + 1, true
}

func isHTMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// UTF16Len counts s the way Telegram counts message length: in UTF-16 code
// units.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// trimEntities removes leading and trailing white space from plain as
// Telegram does before storing a message, moving the entities with it.
func trimEntities(plain string, entities []Entity) (string, []Entity) {
	trimmed := strings.TrimLeft(plain, " \t\n\r\f\v")
	shift := UTF16Len(plain[:len(plain)-len(trimmed)])
	trimmed = strings.TrimRight(trimmed, " \t\n\r\f\v")
	limit := UTF16Len(trimmed)
	var out []Entity
	for _, e := range entities {
		start, end := e.Offset-shift, e.Offset-shift+e.Length
		start, end = max(start, 0), min(end, limit)
		if end <= start {
			continue
		}
		e.Offset, e.Length = start, end-start
		out = append(out, e)
	}
	return trimmed, out
}
