package main

import (
	"context"
	"testing"
	"time"

	"migrantbot"
	"migrantbot/store/storetest"
)

// BenchmarkAppealDialog runs complete appeal dialogs through the dialogs and
// the store (one transaction per update, as in serve), without Telegram, and
// reports the cost of one update.
func BenchmarkAppealDialog(b *testing.B) {
	st := storetest.NewStore(b)
	eng, err := newEngine(config{})
	if err != nil {
		b.Fatal(err)
	}
	handle := eng.Handler(st)
	text := func(s string) migrantbot.Input { return migrantbot.Input{Kind: migrantbot.InputText, Text: s} }
	press := func(d string) migrantbot.Input { return migrantbot.Input{Kind: migrantbot.InputButton, Data: d} }
	dialog := []migrantbot.Input{
		{Kind: migrantbot.InputCommand, Command: "start"}, press("l:ru"), press("m:appeal"), press("a:consent:yes"),
		text("Иванов"), text("Иван"), press("a:patronymic:none"), press("a:citizenship:c:UZ"), press("a:country:c:AZ"),
		text("Баку"), text("ул. Низами 5, кв. 3"), press("a:category:c:labour"), press("a:authority:skip"),
		press("a:when:c:this_month"), text("Работодатель не платит зарплату третий месяц."), press("a:description:continue"),
		{Kind: migrantbot.InputFile, File: &migrantbot.Attachment{FileID: "f", FileUniqueID: "u", Kind: "photo", Size: 1000}},
		press("a:attachments:done"), text("+994501234567"), press("a:email:skip"), press("a:review:submit"),
	}
	ctx := context.Background()
	var updateID int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		chat := int64(100000 + i)
		for _, in := range dialog {
			updateID++
			in.Now = time.Now()
			if _, err := handle(ctx, migrantbot.Update{ID: updateID, ChatID: chat, UserID: chat}, in); err != nil {
				b.Fatalf("update %d: %v", updateID, err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(dialog)), "ns/update")
}
