package bot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

// MaxFileSize is the largest file OpenFile fetches: 20 MB, the most the Bot
// API lets a bot download.
const MaxFileSize = 20 << 20

var _ migrantbot.FileSource = (*Bot)(nil)

// OpenFile fetches a file a person sent: it asks getFile for the file's path
// and streams the file from the Bot API's file endpoint
// (APIURL/file/bot<token>/<path>). It returns the content, which the caller
// must close, its MIME type (from Telegram's answer, the path's extension or
// the first bytes), and its size, -1 when Telegram did not say.
//
// Returns ENOTFOUND when Telegram does not know the file, and EINVALID when
// the file is larger than MaxFileSize; a file whose size Telegram did not
// announce fails while being read once it passes the limit. Cancelling ctx
// stops the download. Neither the errors nor the logs contain the token.
func (b *Bot) OpenFile(ctx context.Context, fileID string) (io.ReadCloser, string, int64, error) {
	if fileID == "" {
		return nil, "", 0, migrantbot.Errorf(migrantbot.EINVALID, "bot: open file: empty file id")
	}
	f, err := b.with(ctx).GetFile(tgbotapi.FileConfig{FileID: fileID})
	if err != nil {
		var te *tgbotapi.Error
		switch {
		case errors.As(err, &te) && te.Code == http.StatusBadRequest && strings.Contains(te.Message, "too big"):
			return nil, "", 0, fmt.Errorf("bot: open file: %w", migrantbot.Errorf(migrantbot.EINVALID, "the file is larger than the Bot API's download limit"))
		case errors.As(err, &te) && te.Code == http.StatusBadRequest:
			return nil, "", 0, fmt.Errorf("bot: open file: %w", migrantbot.Errorf(migrantbot.ENOTFOUND, "Telegram does not know the file: %s", te.Message))
		}
		return nil, "", 0, fmt.Errorf("bot: open file: get file: %w", b.scrub(withoutURL(err)))
	}
	if int64(f.FileSize) > b.maxFileSize {
		return nil, "", 0, fmt.Errorf("bot: open file: %w", migrantbot.Errorf(migrantbot.EINVALID, "the file has %d bytes, more than the limit of %d", f.FileSize, b.maxFileSize))
	}
	if f.FilePath == "" {
		return nil, "", 0, fmt.Errorf("bot: open file: %w", migrantbot.Errorf(migrantbot.ENOTFOUND, "Telegram gave no path to download the file"))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.fileURL(f.FilePath), nil)
	if err != nil {
		return nil, "", 0, fmt.Errorf("bot: open file: %w", b.scrub(withoutURL(err)))
	}
	resp, err := b.api.Client.Do(req)
	if err != nil {
		return nil, "", 0, fmt.Errorf("bot: open file: download: %w", b.scrub(withoutURL(err)))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, "", 0, fmt.Errorf("bot: open file: %w", migrantbot.Errorf(migrantbot.ENOTFOUND, "the file is no longer available"))
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, "", 0, fmt.Errorf("bot: open file: download: the Bot API answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	case resp.ContentLength > b.maxFileSize:
		resp.Body.Close()
		return nil, "", 0, fmt.Errorf("bot: open file: %w", migrantbot.Errorf(migrantbot.EINVALID, "the file has %d bytes, more than the limit of %d", resp.ContentLength, b.maxFileSize))
	}
	size := int64(f.FileSize)
	if size == 0 {
		size = resp.ContentLength // -1 when unknown
	}
	body := &download{body: resp.Body, left: b.maxFileSize, token: b.api.Token}
	r := bufio.NewReaderSize(body, 512)
	return struct {
		io.Reader
		io.Closer
	}{r, body}, mediaType(resp.Header.Get("Content-Type"), f.FilePath, r), size, nil
}

// fileURL is where the Bot API serves a file; it holds the token, so it is
// never logged nor put in an error.
func (b *Bot) fileURL(filePath string) string {
	segments := strings.Split(filePath, "/")
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	return strings.TrimRight(b.opt.APIURL, "/") + "/file/bot" + b.api.Token + "/" + strings.Join(segments, "/")
}

// withoutURL drops the request URL, which holds the token, from an HTTP
// client's error.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// download is a file's body that refuses to read past the size limit, so
// that a file whose size was not announced cannot grow without end.
type download struct {
	body  io.ReadCloser
	left  int64
	token string
}

func (d *download) Read(p []byte) (int, error) {
	if d.left < 0 {
		return 0, errTooLarge
	}
	// Read one byte more than allowed, to tell a file of exactly the limit
	// from a larger one.
	if int64(len(p)) > d.left+1 {
		p = p[:d.left+1]
	}
	n, err := d.body.Read(p)
	d.left -= int64(n)
	if d.left < 0 {
		return n + int(d.left), errTooLarge
	}
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("bot: read file: %w", redact(withoutURL(err), d.token))
	}
	return n, err
}

func (d *download) Close() error { return d.body.Close() }

// errTooLarge ends a download that passed the size limit.
var errTooLarge = fmt.Errorf("bot: read file: %w", migrantbot.Errorf(migrantbot.EINVALID, "the file is larger than the limit"))

// mediaType names the type of a file: the Content-Type Telegram served it
// with unless that is the generic one, else the type of the path's
// extension, else the type its first bytes suggest.
func mediaType(header, filePath string, r *bufio.Reader) string {
	if t, _, err := mime.ParseMediaType(header); err == nil && t != "application/octet-stream" && t != "binary/octet-stream" {
		return header
	}
	if ext := path.Ext(filePath); ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	head, _ := r.Peek(512) // a short or failing read shows up when the caller reads
	return http.DetectContentType(head)
}
