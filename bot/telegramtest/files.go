package telegramtest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// MaxDownloadSize is the largest file the Bot API lets a bot download:
// getFile refuses larger ones with "file is too big".
const MaxDownloadSize = 20 << 20

// fileInfo is a file the bot may fetch with getFile and download.
type fileInfo struct {
	uniqueID string
	kind     string // photo, document, sticker, voice; "" for files a test set
	seq      int
	size     int64
	path     string
	content  []byte // nil: generated from kind, seq and size
}

// newFile registers a file the bot can getFile, with a path ending in ext;
// s.mu must be held.
func (s *Server) newFile(kind string, size int64, ext string) (id, uniqueID string) {
	s.fileSeq++
	id = fmt.Sprintf("%s-%d", kind, s.fileSeq)
	uniqueID = fmt.Sprintf("u%s-%d", kind, s.fileSeq)
	s.files[id] = fileInfo{
		uniqueID: uniqueID, kind: kind, seq: s.fileSeq, size: size,
		path: fmt.Sprintf("%ss/file_%d%s", kind, s.fileSeq, ext),
	}
	return id, uniqueID
}

// SetFile gives the file fileID the content the bot downloads, served at
// filePath (Telegram's file_path, relative to /file/bot<token>/; "" gives
// "documents/<fileID>"). It replaces the content the server makes up for the
// files of the updates it sends (a small JPEG for a photo, a repeated line
// for anything else, each of the announced size), or adds a file of the
// test's own.
func (s *Server) SetFile(fileID string, content []byte, filePath string) {
	if filePath == "" {
		filePath = "documents/" + fileID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[fileID]
	if !ok {
		f = fileInfo{uniqueID: "u" + fileID}
	}
	f.content = append([]byte{}, content...)
	f.size = int64(len(content))
	f.path = strings.TrimLeft(filePath, "/")
	s.files[fileID] = f
}

// FileContent returns the content the bot downloads for fileID, and false
// when the server does not know the file.
func (s *Server) FileContent(fileID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[fileID]
	if !ok {
		return nil, false
	}
	return fileContent(f), true
}

// fileContent is the content of f: the one a test set, or one made up from
// its kind, sequence number and size.
func fileContent(f fileInfo) []byte {
	if f.content != nil {
		return f.content
	}
	if f.kind == "photo" {
		return photo(f.seq, f.size)
	}
	line := fmt.Sprintf("%s %d of %d bytes\n", f.kind, f.seq, f.size)
	return bytes.Repeat([]byte(line), int(f.size)/len(line)+1)[:f.size]
}

// photo makes a valid JPEG of one colour that depends on seq, padded with
// comment segments to size bytes when it is smaller.
func photo(seq int, size int64) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	c := color.RGBA{R: uint8(seq * 53), G: uint8(seq * 101), B: uint8(seq * 197), A: 255}
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(fmt.Sprintf("telegramtest: encode photo: %v", err))
	}
	enc := buf.Bytes()
	pad := size - int64(len(enc))
	if pad < 4 {
		return enc
	}
	// A COM segment is FF FE, a two-byte length that counts itself, and up
	// to 65533 bytes that decoders skip; they go right after the SOI marker.
	out := append([]byte{}, enc[:2]...)
	for pad > 0 {
		n := min(pad, 65537)
		if rest := pad - n; rest > 0 && rest < 4 {
			n = pad - 4
		}
		out = append(out, 0xFF, 0xFE, byte((n-2)>>8), byte(n-2))
		out = append(out, bytes.Repeat([]byte{'.'}, int(n-4))...)
		pad -= n
	}
	return append(out, enc[2:]...)
}

func (s *Server) getFile(_ context.Context, p map[string]string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[p["file_id"]]
	if !ok {
		return nil, badRequest("invalid file_id")
	}
	if f.size > MaxDownloadSize {
		// A person may send larger files than a bot can fetch: a correct
		// bot meets this refusal in normal work.
		e := badRequest("file is too big")
		e.benign = true
		return nil, e
	}
	size := int64(len(fileContent(f)))
	return map[string]any{"file_id": p["file_id"], "file_unique_id": f.uniqueID, "file_size": size, "file_path": f.path}, nil
}

// serveFile serves GET /file/bot<token>/<file_path>, as Telegram serves the
// files a bot downloads. The call is recorded as method "downloadFile", with
// the path (never the token) in its params; FailNext("downloadFile", ...)
// and Down affect it.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, rest string) {
	token, filePath, _ := strings.Cut(rest, "/")
	call := Call{Method: "downloadFile", Params: map[string]string{"file_path": filePath}}
	fail := func(code int) {
		s.record(call, &apiError{code: code, description: http.StatusText(code)})
		http.Error(w, http.StatusText(code), code)
	}
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		fail(http.StatusMethodNotAllowed)
		return
	case token != s.Token:
		fail(http.StatusUnauthorized)
		return
	}
	if f, ok := s.takeFault(call.Method); ok {
		if f.code == 0 {
			s.record(call, nil)
			dropConnection(w)
			return
		}
		aerr := injectedError(f)
		s.record(call, aerr)
		http.Error(w, aerr.description, aerr.code)
		return
	}
	s.mu.Lock()
	var content []byte
	found := false
	for _, f := range s.files {
		if f.path == filePath && f.size <= MaxDownloadSize {
			content, found = fileContent(f), true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		fail(http.StatusNotFound)
		return
	}
	ct := mime.TypeByExtension(path.Ext(filePath))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	s.record(call, nil)
	if r.Method == http.MethodGet {
		_, _ = w.Write(content)
	}
}
