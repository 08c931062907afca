package flows

import (
	"slices"
	"testing"
)

// TestSearchFindsTopics holds questions people type, in their own words, and
// the topic each must find among the three offered.
func TestSearchFindsTopics(t *testing.T) {
	e := newEngine(t)
	tables := map[string][]struct{ question, topic string }{
		"en": {
			{"my boss took my passport", "wages"},
			{"police arrested my brother, what can he do", "detained"},
			{"my visa expired yesterday what should i do", "residence"},
			{"how to complain to ombudsman", "how"},
			{"is it legal to work without work permit", "work_permit"},
			{"i got a deportation order, can i appeal", "deportation"},
			{"lost my passport in istanbul, i am azerbaijani citizen", "consular"},
			{"I fled the war, can I get asylum here", "asylum"},
			{"registation after 15 days where to do", "registration"},
			{"they locked us in and say we owe money for the trip", "signs"},
			{"i have no citizenship of any country, no pasport", "stateless"},
			{"im azerbaijani working in russia and my rights are violated", "ombudsman_abroad"},
		},
		"az": {
			{"pasportumu aldilar isde", "wages"},
			{"is icazesi olmadan islemek olar?", "work_permit"},
			{"erimi polis tutub", "detained"},
			{"vizam bitib ne edim", "residence"},
			{"ombudsmana nece sikayet edim", "how"},
			{"qeydiyyatdan necə keçim", "registration"},
			{"usagimi mektebe qebul etmirler", "children"},
			{"hekim pul isteyir sigortam yoxdur", "health"},
			{"menden borc isteyirler ve cixmaga qoymurlar", "signs"},
			{"tehlukedeyem, komek lazimdir", "help"},
			{"memur rusvet isteyir", "what"},
			{"turkiyede pasportumu ogurladilar", "consular"},
		},
		"ru": {
			{"виза закончилась что делать", "residence"},
			{"меня задержала полиция", "detained"},
			{"работодатель забрал паспорт и не отдает", "wages"},
			{"работаю без патента", "work_permit"},
			{"deportaciya chto delat", "deportation"},
			{"потерял загран в москве", "consular"},
			{"как подать жалобу омбудсмену", "how"},
			{"propiska nujna?", "registration"},
			{"у меня нет никакого гражданства", "stateless"},
			{"не могу вернуться на родину, там война", "asylum"},
			{"работаю в россии, нарушают мои права", "ombudsman_abroad"},
			{"ребенка не берут в школу", "children"},
		},
	}
	for lang, table := range tables {
		found, first := 0, 0
		for _, q := range table {
			got := e.search(lang, q.question)
			if slices.Contains(got, q.topic) {
				found++
			} else {
				t.Errorf("%s: %q found %v, want %s among them", lang, q.question, got, q.topic)
			}
			if len(got) > 0 && got[0] == q.topic {
				first++
			}
		}
		t.Logf("%s: %d of %d questions find their topic in the top three, %d first", lang, found, len(table), first)
	}
	for _, small := range []string{"hello", "salam", "привет", "zzzz"} {
		if got := e.search("en", small); len(got) != 0 {
			t.Errorf("%q found %v, want nothing", small, got)
		}
	}
}
