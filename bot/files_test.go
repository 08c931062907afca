package bot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/jpeg"
	"io"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

// tinyPNG is a valid 1x1 PNG.
var tinyPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")

// photoOf enqueues a photo from alice and returns the file id of its largest
// size, as the bot stores it with the appeal.
func photoOf(tb testing.TB, h *harness) string {
	tb.Helper()
	id := h.tg.SendPhoto(alice, "my passport", "")
	var u tgbotapi.Update
	if err := json.Unmarshal(h.tg.Update(id), &u); err != nil {
		tb.Fatalf("read update: %v", err)
	}
	return largestPhoto(u.Message.Photo).FileID
}

func TestOpenFile(t *testing.T) {
	h := newHarness(t, Options{})
	pdf := []byte("%PDF-1.4\n" + strings.Repeat("stream of a scanned contract\n", 1000))
	h.tg.SetFile("doc-pdf", pdf, "documents/file_77.pdf")
	h.tg.SetFile("doc-png", tinyPNG, "documents/file_78")
	h.tg.SetFile("doc-empty", []byte{}, "documents/file_79.txt")
	photo := photoOf(t, h)
	photoBytes, _ := h.tg.FileContent(photo)

	tests := []struct {
		name     string
		fileID   string
		want     []byte
		wantType string
	}{
		{name: "photo from an update", fileID: photo, want: photoBytes, wantType: "image/jpeg"},
		{name: "document by extension", fileID: "doc-pdf", want: pdf, wantType: "application/pdf"},
		{name: "type from the content", fileID: "doc-png", want: tinyPNG, wantType: "image/png"},
		{name: "empty file", fileID: "doc-empty", want: []byte{}, wantType: "text/plain; charset=utf-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, mimeType, size, err := h.bot.OpenFile(t.Context(), tc.fileID)
			if err != nil {
				t.Fatalf("OpenFile: %v", err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got %d bytes, want the %d registered", len(got), len(tc.want))
			}
			if mimeType != tc.wantType {
				t.Errorf("MIME type = %q, want %q", mimeType, tc.wantType)
			}
			if size != int64(len(tc.want)) {
				t.Errorf("size = %d, want %d", size, len(tc.want))
			}
		})
	}
	if _, err := jpeg.Decode(bytes.NewReader(photoBytes)); err != nil {
		t.Errorf("the photo is not a valid JPEG: %v", err)
	}
	if len(photoBytes) != 150000 {
		t.Errorf("the photo has %d bytes, want the 150000 its update announced", len(photoBytes))
	}
	h.noRejected(t)
}

func TestOpenFileRefusals(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(h *harness) string // returns the file id
		ctx      func(t *testing.T) context.Context
		wantCode string
	}{
		{name: "unknown file", prepare: func(h *harness) string { return "no-such-file" }, wantCode: migrantbot.ENOTFOUND},
		{name: "empty id", prepare: func(h *harness) string { return "" }, wantCode: migrantbot.EINVALID},
		{name: "over the bot's limit", prepare: func(h *harness) string {
			h.bot.maxFileSize = 1000
			h.tg.SetFile("big", bytes.Repeat([]byte("x"), 1001), "documents/big.bin")
			return "big"
		}, wantCode: migrantbot.EINVALID},
		{name: "over Telegram's 20 MB", prepare: func(h *harness) string {
			h.tg.SetFile("huge", make([]byte, MaxFileSize+1), "documents/huge.bin")
			return "huge"
		}, wantCode: migrantbot.EINVALID},
		{name: "download fails", prepare: func(h *harness) string {
			h.tg.SetFile("doc", []byte("hello"), "documents/doc.txt")
			// Twice: Go's client tries a GET again on a fresh connection
			// when a reused one was dropped.
			h.tg.FailNext("downloadFile", 2, 0, 0)
			return "doc"
		}, wantCode: migrantbot.EINTERNAL},
		{name: "download answers 502", prepare: func(h *harness) string {
			h.tg.SetFile("doc", []byte("hello"), "documents/doc.txt")
			h.tg.FailNext("downloadFile", 1, 502, 0)
			return "doc"
		}, wantCode: migrantbot.EINTERNAL},
		{name: "Telegram down", prepare: func(h *harness) string {
			h.tg.SetFile("doc", []byte("hello"), "documents/doc.txt")
			h.tg.Down(0)
			return "doc"
		}, wantCode: migrantbot.EINTERNAL},
		{name: "cancelled", prepare: func(h *harness) string {
			h.tg.SetFile("doc", []byte("hello"), "documents/doc.txt")
			return "doc"
		}, ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, wantCode: migrantbot.EINTERNAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			id := tc.prepare(h)
			ctx := t.Context()
			if tc.ctx != nil {
				ctx = tc.ctx(t)
			}
			r, _, _, err := h.bot.OpenFile(ctx, id)
			if err == nil {
				r.Close()
				t.Fatal("OpenFile succeeded, want an error")
			}
			if code := migrantbot.ErrorCode(err); code != tc.wantCode {
				t.Errorf("error code = %q (%v), want %q", code, err, tc.wantCode)
			}
			for _, secret := range []string{testToken, url.PathEscape(testToken)} {
				if strings.Contains(err.Error(), secret) || strings.Contains(h.logs.String(), secret) {
					t.Errorf("the token is in the error or the logs: %v", err)
				}
			}
			if tc.name == "over the bot's limit" && len(h.tg.Calls("downloadFile")) != 0 {
				t.Error("a file over the limit was downloaded")
			}
		})
	}
}

func TestFileURL(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name   string
		apiURL string
		path   string
		want   string
	}{
		{name: "Telegram by default", path: "photos/file_1.jpg", want: DefaultAPIURL + "/file/bot" + testToken + "/photos/file_1.jpg"},
		{name: "local Bot API", apiURL: "http://127.0.0.1:8081/", path: "documents/a b#c.pdf",
			want: "http://127.0.0.1:8081/file/bot" + testToken + "/documents/a%20b%23c.pdf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := New(h.bot.api, nil, nil, h.bot.logger, Options{APIURL: tc.apiURL})
			if got := b.fileURL(tc.path); got != tc.want {
				t.Errorf("file URL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDownloadLimit(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		limit   int64
		wantErr bool
	}{
		{name: "under", size: 9, limit: 10},
		{name: "exactly", size: 10, limit: 10},
		{name: "one over", size: 11, limit: 10, wantErr: true},
		{name: "far over", size: 100000, limit: 10, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time, as a slow network delivers a body whose
			// size was not announced.
			body := io.NopCloser(iotest.OneByteReader(bytes.NewReader(make([]byte, tc.size))))
			d := &download{body: body, left: tc.limit, token: testToken}
			got, err := io.ReadAll(bufio.NewReader(d))
			if tc.wantErr {
				if !errors.Is(err, errTooLarge) || migrantbot.ErrorCode(err) != migrantbot.EINVALID {
					t.Errorf("err = %v, want the size limit", err)
				}
				if int64(len(got)) > tc.limit {
					t.Errorf("read %d bytes past a limit of %d", len(got), tc.limit)
				}
				return
			}
			if err != nil || len(got) != tc.size {
				t.Errorf("read %d bytes, %v; want %d", len(got), err, tc.size)
			}
		})
	}
}
