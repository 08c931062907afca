package sealed_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"migrantbot/sealed"
)

func newKey(tb testing.TB) []byte {
	tb.Helper()
	s, err := sealed.NewKey()
	if err != nil {
		tb.Fatalf("NewKey: %v", err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatalf("NewKey gave bad base64: %v", err)
	}
	return b
}

func newRing(tb testing.TB, current []byte, previous ...[]byte) *sealed.Keyring {
	tb.Helper()
	k, err := sealed.New(current, previous...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := newRing(t, newKey(t))
	for _, plain := range []string{"a", "İsmayılov Əli", "Мамедов", "+994 50 123 45 67", strings.Repeat("x", 5000),
		"enc:v1:looks:sealed", "\x00binary\xff"} {
		stored, err := k.Seal(plain)
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if !strings.HasPrefix(stored, sealed.Prefix+k.CurrentID()+":") {
			t.Errorf("stored form %q does not start with %q", stored, sealed.Prefix+k.CurrentID()+":")
		}
		// A short text may turn up in base64 by chance.
		if len(plain) >= 6 && strings.Contains(stored, plain) {
			t.Errorf("stored form contains the plain text")
		}
		got, err := k.Open(stored)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if got != plain {
			t.Errorf("Open(Seal(%q)): got %q", plain, got)
		}
		again, _ := k.Seal(plain)
		if again == stored {
			t.Errorf("two seals of one value are equal: the nonce is not fresh")
		}
		if !k.Current(stored) {
			t.Errorf("Current(a fresh seal): got false, want true")
		}
	}
}

func TestEmptyStaysEmpty(t *testing.T) {
	k := newRing(t, newKey(t))
	stored, err := k.Seal("")
	if err != nil || stored != "" {
		t.Errorf("Seal(\"\"): got %q, %v; want \"\", nil", stored, err)
	}
	plain, err := k.Open("")
	if err != nil || plain != "" {
		t.Errorf("Open(\"\"): got %q, %v; want \"\", nil", plain, err)
	}
	if !k.Current("") {
		t.Errorf("Current(\"\"): got false, want true")
	}
}

func TestPlainValuesReadAsTheyAre(t *testing.T) {
	k := newRing(t, newKey(t))
	for _, plain := range []string{"Aliyev", "enc:", "enc:v2:abc", "ENC:V1:abcdefgh:xyz"} {
		got, err := k.Open(plain)
		if err != nil || got != plain {
			t.Errorf("Open(%q): got %q, %v; want it as it is", plain, got, err)
		}
		if k.Current(plain) {
			t.Errorf("Current(%q): got true, want false (a plain value needs sealing)", plain)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	key := newKey(t)
	k := newRing(t, key)
	other := newRing(t, newKey(t))
	const secret = "Mammadova Leyla"
	stored, err := k.Seal(secret)
	if err != nil {
		t.Fatal(err)
	}
	fromOther, _ := other.Seal(secret)
	id, body, _ := strings.Cut(strings.TrimPrefix(stored, sealed.Prefix), ":")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return sealed.Prefix + id + ":" + base64.RawURLEncoding.EncodeToString(b)
	}
	// The same ciphertext under another id of a key the ring holds: the id
	// is bound as additional data, so it must not open.
	prevKey := newKey(t)
	twoKeys := newRing(t, key, prevKey)
	tests := []struct {
		name   string
		ring   *sealed.Keyring
		stored string
		want   error
	}{
		{"nonce changed", k, flip(0), sealed.ErrCorrupt},
		{"ciphertext changed", k, flip(12), sealed.ErrCorrupt},
		{"tag changed", k, flip(len(raw) - 1), sealed.ErrCorrupt},
		{"cut short", k, stored[:len(stored)-4], sealed.ErrCorrupt},
		{"only a nonce", k, sealed.Prefix + id + ":" + base64.RawURLEncoding.EncodeToString(raw[:12]), sealed.ErrCorrupt},
		{"not base64", k, sealed.Prefix + id + ":***", sealed.ErrCorrupt},
		{"no id", k, sealed.Prefix + body, sealed.ErrCorrupt},
		{"wrong key", k, fromOther, sealed.ErrUnknownKey},
		{"unknown key id", k, sealed.Prefix + "00000000:" + body, sealed.ErrUnknownKey},
		{"id of another key in the ring", twoKeys, sealed.Prefix + sealed.KeyID(prevKey) + ":" + body, sealed.ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ring.Open(tc.stored)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: got %q, %v; want error %v", got, err, tc.want)
			}
			if got != "" {
				t.Errorf("Open returned text %q with an error", got)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), body) {
				t.Errorf("error %q holds the value", err)
			}
		})
	}
}

func TestRotationKeys(t *testing.T) {
	oldKey, newKeyBytes := newKey(t), newKey(t)
	old := newRing(t, oldKey)
	rotated := newRing(t, newKeyBytes, oldKey)
	onlyNew := newRing(t, newKeyBytes)

	v, _ := old.Seal("Əliyev")
	if rotated.Current(v) {
		t.Errorf("Current(a value under the previous key): got true, want false")
	}
	got, err := rotated.Open(v)
	if err != nil || got != "Əliyev" {
		t.Errorf("Open with the previous key in the ring: got %q, %v", got, err)
	}
	if _, err := onlyNew.Open(v); !errors.Is(err, sealed.ErrUnknownKey) {
		t.Errorf("Open without the previous key: got %v, want ErrUnknownKey", err)
	}
	w, _ := rotated.Seal("Əliyev")
	if got, err := onlyNew.Open(w); err != nil || got != "Əliyev" {
		t.Errorf("Open of a value sealed after rotation with only the new key: got %q, %v", got, err)
	}
	if rotated.Token("word") == old.Token("word") {
		t.Errorf("the index key did not change with the data key")
	}
	if prev := rotated.PreviousTokens("word"); !slices.Equal(prev, []string{old.Token("word")}) {
		t.Errorf("PreviousTokens: got %v, want the old key's token %v", prev, old.Token("word"))
	}
}

func TestParse(t *testing.T) {
	good, _ := sealed.NewKey()
	good2, _ := sealed.NewKey()
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name, current, previous string
		wantErr                 string // "" for success
	}{
		{"current only", good, "", ""},
		{"with previous", good, good2, ""},
		{"several previous with spaces", good, " " + good2 + " , " + good + " ", ""},
		{"unpadded", strings.TrimRight(good, "="), "", ""},
		{"missing", "", "", "DATA_KEY: missing"},
		{"not base64", "not a key!", "", "DATA_KEY: not valid base64"},
		{"too short", short, "", "DATA_KEY: is 16 bytes, want 32"},
		{"bad previous", good, good2 + ",x!", "DATA_KEY_PREVIOUS key 2: not valid base64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := sealed.Parse(tc.current, tc.previous)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if k.CurrentID() == "" || len(k.CurrentID()) != 8 {
					t.Errorf("CurrentID: got %q, want 8 hex characters", k.CurrentID())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse: got %v, want an error with %q", err, tc.wantErr)
			}
			for _, secret := range []string{tc.current, tc.previous, good, good2} {
				if secret != "" && strings.Contains(err.Error(), strings.TrimSpace(secret)) {
					t.Errorf("error %q holds a key", err)
				}
			}
		})
	}
}

func TestKeyIDIsStable(t *testing.T) {
	key := bytes.Repeat([]byte{7}, sealed.KeySize)
	a, b := sealed.KeyID(key), sealed.KeyID(bytes.Clone(key))
	if a != b || len(a) != 8 {
		t.Errorf("KeyID: got %q and %q, want one 8-character id", a, b)
	}
	if sealed.KeyID(newKey(t)) == a {
		t.Errorf("two keys have one id")
	}
}

func TestSealJSON(t *testing.T) {
	k := newRing(t, newKey(t))
	doc := []byte(`{"draft":{"surname":"Hüseynov"}}`)
	stored, err := k.SealJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(stored, &s); err != nil {
		t.Fatalf("sealed JSON is not a JSON string: %v", err)
	}
	if bytes.Contains(stored, []byte("Hüseynov")) {
		t.Errorf("sealed JSON holds the plain text")
	}
	for _, tc := range []struct {
		name   string
		stored []byte
		want   []byte
	}{
		{"sealed", stored, doc},
		{"sealed, as jsonb prints it with spaces", append(append([]byte(" "), stored...), ' '), doc},
		{"plain document", doc, doc},
		{"plain string", []byte(`"hello"`), []byte(`"hello"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.OpenJSON(tc.stored)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("OpenJSON: got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
	if !k.CurrentJSON(stored) || k.CurrentJSON(doc) {
		t.Errorf("CurrentJSON: got %v for sealed and %v for plain, want true and false", k.CurrentJSON(stored), k.CurrentJSON(doc))
	}
}

func TestWordsAndTokens(t *testing.T) {
	tests := []struct {
		text string
		want []string
	}{
		{"İSMAYILOV", []string{"ismayilov"}},
		{"Ismayilov İsmayılov", []string{"ismayilov"}},
		{"Мамедов, Али!", []string{"мамедов", "али"}},
		{"my boss took my passport", []string{"my", "boss", "took", "passport"}},
		{"Qarabağ-li ata", []string{"qarabağ-li", "qarabağ", "li", "ata"}},
		{"-a- b--c", []string{"a", "b", "c"}},
		{"o'g'li 2024", []string{"o", "g", "li", "2024"}},
		{"...", nil},
		{"", nil},
	}
	for _, tc := range tests {
		t.Run(tc.text, func(t *testing.T) {
			if got := sealed.Words(sealed.Fold(tc.text)); !slices.Equal(got, tc.want) {
				t.Errorf("Words(Fold(%q)): got %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	k := newRing(t, newKey(t))
	a, b := k.Tokens("İSMAYILOV Əli"), k.Tokens("ismayılov əli əli")
	if !slices.Equal(a, b) || len(a) != 2 {
		t.Errorf("Tokens of one name written two ways: got %v and %v, want the same two", a, b)
	}
	for _, tok := range a {
		if len(tok) != 16 || strings.Trim(tok, "0123456789abcdef") != "" {
			t.Errorf("token %q: want 16 hex characters", tok)
		}
	}
	// The index (Tokens) and the query (Token of each word) agree.
	if got, want := k.Tokens("Əli"), []string{k.Token("əli")}; !slices.Equal(got, want) {
		t.Errorf("Tokens(\"Əli\"): got %v, want Token(\"əli\") %v", got, want)
	}
	if other := newRing(t, newKey(t)); other.Token("ali") == k.Token("ali") {
		t.Errorf("two keys give one token for a word")
	}
}

// BenchmarkSeal measures sealing and opening one field of a typical size.
func BenchmarkSeal(b *testing.B) {
	k := newRing(b, newKey(b))
	plain := strings.Repeat("Description of what happened. ", 10)
	b.ReportAllocs()
	for b.Loop() {
		stored, err := k.Seal(plain)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Open(stored); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokens measures the search tokens of an appeal's names and a
// description of 50 words.
func BenchmarkTokens(b *testing.B) {
	k := newRing(b, newKey(b))
	text := "Məmmədov Əli Rəşad oğlu " + strings.Repeat("employer kept passport salary unpaid three months police ", 6)
	b.ReportAllocs()
	for b.Loop() {
		k.Tokens(text)
	}
}
