package bot

import (
	"slices"
	"strings"
	"testing"

	"migrantbot/bot/telegramtest"
)

func TestSplitHTML(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		limit int
		want  []string
	}{
		{name: "fits", text: "short <b>text</b>", limit: 10, want: []string{"short <b>text</b>"}},
		{name: "paragraph break preferred", text: "para one.\nline\n\npara two.", limit: 20,
			want: []string{"para one.\nline\n\n", "para two."}},
		{name: "line break before space", text: "aaaa bbbb\ncccc dddd", limit: 12,
			want: []string{"aaaa bbbb\n", "cccc dddd"}},
		{name: "space", text: "aaaa bbbb cccc", limit: 11, want: []string{"aaaa bbbb ", "cccc"}},
		{name: "hard cut", text: strings.Repeat("x", 25), limit: 10,
			want: []string{strings.Repeat("x", 10), strings.Repeat("x", 10), strings.Repeat("x", 5)}},
		{name: "tags closed and reopened", text: "<b>aaaa <i>bbbb</i> cccc</b>", limit: 8,
			want: []string{"<b>aaaa </b>", "<b><i>bbbb</i> </b>", "<b>cccc</b>"}},
		{name: "link reopened with its address", text: `<a href="https://x.org/?a=1&amp;b=2">aaaa bbbb</a>`, limit: 6,
			want: []string{`<a href="https://x.org/?a=1&amp;b=2">aaaa </a>`, `<a href="https://x.org/?a=1&amp;b=2">bbbb</a>`}},
		{name: "entities are one character and never cut", text: "&lt;&lt;&lt; &amp;&amp;&amp;", limit: 4,
			want: []string{"&lt;&lt;&lt; ", "&amp;&amp;&amp;"}},
		{name: "emoji count two", text: "😀😀 😀😀", limit: 5, want: []string{"😀😀 ", "😀😀"}},
		{name: "white space only parts dropped", text: "aaaa\n\n\n\n\n\n\n\nbbbb", limit: 5,
			want: []string{"aaaa\n", "bbbb"}},
		{name: "short first paragraph not preferred over a fuller line", text: "a\n\nbbbbbb cc\ndd", limit: 13,
			want: []string{"a\n\nbbbbbb cc\n", "dd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitHTML(tc.text, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("splitHTML(%q, %d) = %q, want %q", tc.text, tc.limit, got, tc.want)
			}
			for _, p := range got {
				plain, _, err := telegramtest.ParseHTML(p)
				if err != nil {
					t.Errorf("part %q is not valid Telegram HTML: %v", p, err)
				}
				if n := telegramtest.UTF16Len(plain); n > tc.limit {
					t.Errorf("part %q is %d long, over %d", p, n, tc.limit)
				}
			}
		})
	}
}

func TestSplitHTMLRefusesInvalidHTML(t *testing.T) {
	for _, text := range []string{"a < b", "Tom & Jerry", "<p>x</p>", "<b>x", "<b><i>x</b></i>", "x</b>", "<b"} {
		if _, err := splitHTML(text, MaxTextLength); err == nil {
			t.Errorf("splitHTML(%q) accepted invalid HTML", text)
		}
		fallback := plainFallback(text)
		if _, _, err := telegramtest.ParseHTML(fallback); err != nil {
			t.Errorf("plainFallback(%q) = %q, not valid HTML: %v", text, fallback, err)
		}
	}
}

func TestSplitLastLine(t *testing.T) {
	first, second, ok := splitLastLine("<b>Phone?\nShare it</b> below")
	if !ok || first != "<b>Phone?\n</b>" || second != "<b>Share it</b> below" {
		t.Errorf("splitLastLine = %q, %q, %v", first, second, ok)
	}
	if _, _, ok := splitLastLine("one line\n"); ok {
		t.Error("split a text with nothing after its line break")
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 200, "short"},
		{strings.Repeat("a", 200), 200, strings.Repeat("a", 200)},
		{strings.Repeat("a", 201), 200, strings.Repeat("a", 199) + "…"},
		{strings.Repeat("😀", 101), 200, strings.Repeat("😀", 99) + "…"},
	}
	for _, tc := range tests {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%d chars, %d) = %d chars, want %d", len(tc.in), tc.n, len(got), len(tc.want))
		}
	}
}
