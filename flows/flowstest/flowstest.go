// Package flowstest holds a scripted appeal dialog for the tests and the
// load command that drive the whole bot through the Bot API double.
package flowstest

// Step is one input of a scripted dialog and the sign that the bot answered
// it.
type Step struct {
	Text  string // the text the person sends, or
	Press string // the callback data of the button the person presses
	// Want is the callback data of a button in the answer, or "AP-" for the
	// confirmation, which has no buttons: its text holds the reference.
	Want string
	// State is the session's state once the answer arrived.
	State string
}

// AppealDialog returns the shortest complete appeal in English, from the
// first /start to the confirmation: language, consent, every question, the
// review and Submit. Every answer carries a button no earlier answer has,
// so a person can tell it arrived even when an earlier message comes a
// second time.
func AppealDialog() []Step {
	return []Step{
		{Text: "/start", Want: "l:en", State: "language"},
		{Press: "l:en", Want: "m:appeal", State: "menu"},
		{Press: "m:appeal", Want: "a:consent:yes", State: "consent"},
		{Press: "a:consent:yes", Want: "a:surname:back", State: "surname"},
		{Text: "Smith", Want: "a:first_name:back", State: "first_name"},
		{Text: "John", Want: "a:patronymic:none", State: "patronymic"},
		{Press: "a:patronymic:none", Want: "a:citizenship:back", State: "citizenship"},
		{Press: "a:citizenship:c:IN", Want: "a:country:back", State: "country"},
		{Press: "a:country:c:AZ", Want: "a:city:back", State: "city"},
		{Text: "Ganja", Want: "a:address:back", State: "address"},
		{Text: "Ataturk avenue 10", Want: "a:category:back", State: "category"},
		{Press: "a:category:c:labour", Want: "a:authority:back", State: "authority"},
		{Press: "a:authority:skip", Want: "a:when:back", State: "when"},
		{Press: "a:when:c:this_month", Want: "a:description:back", State: "description"},
		{Text: "My employer keeps my passport and does not pay.", Want: "a:description:continue", State: "description"},
		{Press: "a:description:continue", Want: "a:attachments:done", State: "attachments"},
		{Press: "a:attachments:done", Want: "a:phone:back", State: "phone"},
		{Text: "+994 55 555 55 55", Want: "a:email:skip", State: "email"},
		{Press: "a:email:skip", Want: "a:review:submit", State: "review"},
		{Press: "a:review:submit", Want: "AP-", State: "menu"},
	}
}
