package telegramtest_test

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot/bot/telegramtest"
)

// download fetches a file as a bot does, returning the status, the
// Content-Type and the body.
func download(t *testing.T, s *telegramtest.Server, tok, filePath string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(s.URL + "/file/bot" + tok + "/" + filePath)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

func TestFiles(t *testing.T) {
	s, api := newClient(t)
	id := s.SendPhoto(alice, "", "")
	s.SendDocument(alice, "Contract.PDF", "application/pdf", 123456, "")
	var u tgbotapi.Update
	if err := json.Unmarshal(s.Update(id), &u); err != nil {
		t.Fatal(err)
	}
	photoID := u.Message.Photo[len(u.Message.Photo)-1].FileID
	s.SetFile("mine", []byte("my own bytes"), "")

	tests := []struct {
		name     string
		fileID   string
		wantSize int
		wantPath string
		wantType string
		check    func(t *testing.T, body []byte)
	}{
		{name: "photo", fileID: photoID, wantSize: 150000, wantPath: ".jpg", wantType: "image/jpeg", check: func(t *testing.T, body []byte) {
			if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
				t.Errorf("not a valid JPEG: %v", err)
			}
		}},
		{name: "small photo size", fileID: u.Message.Photo[0].FileID, wantSize: 1500, wantPath: ".jpg", wantType: "image/jpeg"},
		{name: "document", fileID: "document-4", wantSize: 123456, wantPath: ".pdf", wantType: "application/pdf", check: func(t *testing.T, body []byte) {
			if !bytes.HasPrefix(body, []byte("document 4 of 123456 bytes\n")) {
				t.Errorf("content starts %q", body[:30])
			}
		}},
		{name: "set by the test", fileID: "mine", wantSize: 12, wantPath: "documents/mine", wantType: "application/octet-stream", check: func(t *testing.T, body []byte) {
			if string(body) != "my own bytes" {
				t.Errorf("content = %q", body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := api.GetFile(tgbotapi.FileConfig{FileID: tc.fileID})
			if err != nil {
				t.Fatalf("getFile: %v", err)
			}
			if f.FileSize != tc.wantSize || !strings.HasSuffix(f.FilePath, tc.wantPath) {
				t.Errorf("getFile = %+v, want size %d and a path ending %q", f, tc.wantSize, tc.wantPath)
			}
			code, ct, body := download(t, s, token, f.FilePath)
			if code != http.StatusOK || ct != tc.wantType || len(body) != tc.wantSize {
				t.Fatalf("download = %d %q, %d bytes; want 200 %q, %d bytes", code, ct, len(body), tc.wantType, tc.wantSize)
			}
			if want, _ := s.FileContent(tc.fileID); !bytes.Equal(body, want) {
				t.Error("the download differs from FileContent")
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
	if calls := s.Calls("downloadFile"); len(calls) != len(tests) || calls[0].Params["file_path"] == "" {
		t.Errorf("download calls = %+v", calls)
	}
	if len(s.Rejected()) != 0 {
		t.Errorf("rejected: %+v", s.Rejected())
	}
}

func TestFileRefusals(t *testing.T) {
	s, api := newClient(t)
	s.SetFile("huge", make([]byte, telegramtest.MaxDownloadSize+1), "documents/huge.bin")
	if _, err := api.GetFile(tgbotapi.FileConfig{FileID: "huge"}); apiError(t, err).Message != "Bad Request: file is too big" {
		t.Errorf("getFile of a huge file: %v", err)
	}
	if _, err := api.GetFile(tgbotapi.FileConfig{FileID: "nope"}); apiError(t, err).Message != "Bad Request: invalid file_id" {
		t.Errorf("getFile of an unknown file: %v", err)
	}
	s.SetFile("doc", []byte("x"), "documents/doc.txt")
	if code, _, _ := download(t, s, "1:wrong", "documents/doc.txt"); code != http.StatusUnauthorized {
		t.Errorf("download with a wrong token: %d, want 401", code)
	}
	if code, _, _ := download(t, s, token, "documents/other.txt"); code != http.StatusNotFound {
		t.Errorf("download of an unknown path: %d, want 404", code)
	}
	if code, _, _ := download(t, s, token, "documents/huge.bin"); code != http.StatusNotFound {
		t.Errorf("download of a huge file: %d, want 404", code)
	}
	s.FailNext("downloadFile", 1, 502, 0)
	if code, _, _ := download(t, s, token, "documents/doc.txt"); code != http.StatusBadGateway {
		t.Errorf("download with a fault: %d, want 502", code)
	}
	if rej := s.Rejected(); len(rej) != 4 {
		t.Errorf("rejected = %+v, want the unknown file id, the wrong token and the two unknown paths", rej)
	}
}

func TestDownUp(t *testing.T) {
	s, api := newClient(t)
	s.Down(502)
	if _, err := api.Send(tgbotapi.NewMessage(alice.ID, "hi")); apiError(t, err).Code != 502 {
		t.Errorf("send while down: %v", err)
	}
	if _, err := api.GetMe(); err == nil {
		t.Error("getMe succeeded while down")
	}
	s.Down(0)
	if _, err := api.Send(tgbotapi.NewMessage(alice.ID, "hi")); err == nil {
		t.Error("send succeeded while the connection drops")
	}
	s.Up()
	if _, err := api.Send(tgbotapi.NewMessage(alice.ID, "hi")); err != nil {
		t.Errorf("send after Up: %v", err)
	}
	if got := s.Messages(alice.ID); len(got) != 1 {
		t.Errorf("messages = %+v, want only the one sent after Up", got)
	}
	for _, c := range s.Calls("") {
		if !c.OK() && !c.Injected {
			t.Errorf("call %s failed with %d without being injected", c.Method, c.Code)
		}
	}
	if len(s.Rejected()) != 0 {
		t.Errorf("rejected: %+v", s.Rejected())
	}
}
