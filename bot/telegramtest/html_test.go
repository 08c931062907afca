package telegramtest

import (
	"slices"
	"strings"
	"testing"
)

func TestParseHTML(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantPlain string
		wantErr   string // substring of the error; "" for success
		wantTypes []string
	}{
		{name: "plain", in: "hello", wantPlain: "hello"},
		{name: "bold", in: "<b>hi</b> there", wantPlain: "hi there", wantTypes: []string{"bold"}},
		{name: "all tags", in: `<b>1</b><strong>2</strong><i>3</i><em>4</em><u>5</u><ins>6</ins><s>7</s><strike>8</strike><del>9</del><a href="https://x.org/?a=1&amp;b=2">10</a><code>11</code><pre><code class="language-go">12</code></pre><tg-spoiler>13</tg-spoiler><span class="tg-spoiler">14</span><blockquote>15</blockquote><blockquote expandable>16</blockquote><tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>`,
			wantPlain: "12345678910111213141516👍"},
		{name: "upper case tags", in: "<B>x</B>", wantPlain: "x", wantTypes: []string{"bold"}},
		{name: "nested", in: "<b>a <i>b</i> c</b>", wantPlain: "a b c", wantTypes: []string{"italic", "bold"}},
		{name: "entities", in: "a &lt; b &gt; c &amp; d &quot;e&quot; &#65;&#x42;", wantPlain: `a < b > c & d "e" AB`},
		{name: "bare greater than", in: "a > b", wantPlain: "a > b"},
		{name: "single quoted href", in: "<a href='tg://user?id=1'>me</a>", wantPlain: "me", wantTypes: []string{"text_link"}},
		{name: "bare less than", in: "a < b", wantErr: `Unsupported start tag "" at byte offset 2`},
		{name: "bare ampersand", in: "Tom & Jerry", wantErr: "Character '&' is reserved"},
		{name: "unknown entity", in: "&nbsp;", wantErr: "Character '&' is reserved"},
		{name: "unterminated entity", in: "&lt", wantErr: "Character '&' is reserved"},
		{name: "unsupported tag", in: "<p>x</p>", wantErr: `Unsupported start tag "p"`},
		{name: "br tag", in: "a<br>b", wantErr: `Unsupported start tag "br"`},
		{name: "self closing", in: "<b/>", wantErr: `Unsupported start tag "b/"`},
		{name: "unclosed", in: "<b>x", wantErr: `Can't find end tag corresponding to start tag "b"`},
		{name: "bad nesting", in: "<b><i>x</b></i>", wantErr: `Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`},
		{name: "stray end tag", in: "x</b>", wantErr: "Unexpected end tag at byte offset 1"},
		{name: "unclosed start tag", in: "<b", wantErr: "Unclosed start tag"},
		{name: "unclosed end tag", in: "<b>x</b", wantErr: "Unclosed end tag"},
		{name: "attribute without value", in: `<a href>x</a>`, wantErr: "Expected equal sign"},
		{name: "unclosed quote", in: `<a href="x>y</a>`, wantErr: "Unclosed start tag"},
		{name: "span without class", in: "<span>x</span>", wantErr: `Tag "span" must have class "tg-spoiler"`},
		{name: "ampersand in href", in: `<a href="https://x.org/?a=1&b=2">x</a>`, wantErr: "Character '&' is reserved"},
		{name: "zero entity", in: "&#0;", wantErr: "Character '&' is reserved"},
		{name: "surrogate entity", in: "&#xD800;", wantErr: "Character '&' is reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain, entities, err := ParseHTML(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseHTML(%q) error = %v, want it to contain %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseHTML(%q): %v", tc.in, err)
			}
			if plain != tc.wantPlain {
				t.Errorf("plain = %q, want %q", plain, tc.wantPlain)
			}
			if tc.wantTypes != nil {
				var types []string
				for _, e := range entities {
					types = append(types, e.Type)
				}
				if !slices.Equal(types, tc.wantTypes) {
					t.Errorf("entity types = %v, want %v", types, tc.wantTypes)
				}
			}
		})
	}
}

func TestParseHTMLOffsetsInUTF16(t *testing.T) {
	plain, entities, err := ParseHTML("😀 <b>a&amp;b</b>")
	if err != nil {
		t.Fatal(err)
	}
	if plain != "😀 a&b" {
		t.Fatalf("plain = %q", plain)
	}
	want := []Entity{{Type: "bold", Offset: 3, Length: 3}}
	if !slices.Equal(entities, want) {
		t.Errorf("entities = %+v, want %+v", entities, want)
	}
	if got := UTF16Len(plain); got != 6 {
		t.Errorf("UTF16Len(%q) = %d, want 6", plain, got)
	}
}

func TestTrimEntities(t *testing.T) {
	plain, entities := trimEntities("\n\n <b>x</b> \n", []Entity{{Type: "bold", Offset: 3, Length: 8}})
	if plain != "<b>x</b>" {
		t.Errorf("plain = %q", plain)
	}
	if want := []Entity{{Type: "bold", Offset: 0, Length: 8}}; !slices.Equal(entities, want) {
		t.Errorf("entities = %+v, want %+v", entities, want)
	}
}
