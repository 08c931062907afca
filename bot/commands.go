package bot

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"migrantbot"
)

var commandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// RegisterCommands sets the command menu: for each language code in byLang
// the commands described in that language, and as the default for every
// other language the English ones (byLang["en"]).
func (b *Bot) RegisterCommands(ctx context.Context, byLang map[string][]migrantbot.Command) error {
	api := b.with(ctx)
	set := func(lang string, cmds []migrantbot.Command) error {
		var tc []tgbotapi.BotCommand
		for _, c := range cmds {
			if !commandName.MatchString(c.Name) {
				return fmt.Errorf("bot: register commands (%q): invalid command name %q: Telegram takes 1-32 of a-z, 0-9 and _", lang, c.Name)
			}
			if n := len([]rune(c.Description)); n < 1 || n > 256 {
				return fmt.Errorf("bot: register commands (%q): command %q needs a description of 1-256 characters", lang, c.Name)
			}
			tc = append(tc, tgbotapi.BotCommand{Command: c.Name, Description: c.Description})
		}
		cfg := tgbotapi.NewSetMyCommands(tc...)
		cfg.LanguageCode = lang
		if _, err := api.Request(cfg); err != nil {
			return fmt.Errorf("bot: register commands (%q): %w", lang, b.scrub(err))
		}
		return nil
	}
	langs := make([]string, 0, len(byLang))
	for lang := range byLang {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		if err := set(lang, byLang[lang]); err != nil {
			return err
		}
	}
	if en, ok := byLang["en"]; ok {
		return set("", en)
	}
	return nil
}
