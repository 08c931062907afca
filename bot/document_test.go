package bot

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/bot/telegramtest"
)

func TestDocumentsAreUploaded(t *testing.T) {
	h := newHarness(t, Options{})
	data := []byte(`{"person": {"name": "<Ali> & Veli"}}`)
	tests := []struct {
		name, caption, wantCaption string
	}{
		{"caption in HTML", "<b>Your data</b> (JSON)", "Your data (JSON)"},
		{"no caption", "", ""},
		{"caption over the limit is cut, as plain text", "<b>x &amp; y</b>" + strings.Repeat("z", 1500), "x & y" + strings.Repeat("z", 1018) + "…"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat := int64(700 + i)
			out := h.outbox.add(chat, migrantbot.Message{Text: tt.caption, Document: &migrantbot.Document{FileName: "my-data.json", Data: data}})
			h.bot.Deliver(context.Background(), out)
			h.outbox.waitSent(t, out, 5*time.Second)
			msgs := h.tg.Messages(chat)
			if len(msgs) != 1 || msgs[0].Document == nil {
				t.Fatalf("sent %+v, want one document", msgs)
			}
			d := msgs[0].Document
			if d.FileName != "my-data.json" || !bytes.Equal(d.Data, data) {
				t.Errorf("uploaded %q with %q", d.FileName, d.Data)
			}
			if tt.wantCaption != "" && msgs[0].Plain != tt.wantCaption {
				t.Errorf("caption %q, want %q", msgs[0].Plain, tt.wantCaption)
			}
			if n := telegramtest.UTF16Len(msgs[0].Plain); n > 1024 {
				t.Errorf("caption of %d units", n)
			}
		})
	}
	h.noRejected(t)
}
