package bot

import "sync"

// byChat groups items by their chat, keeping the order of first appearance
// and each chat's items in order: one chat is handled in sequence, chats
// side by side.
func byChat[T any](items []T, chatOf func(T) int64) (order []int64, groups map[int64][]T) {
	groups = map[int64][]T{}
	for _, it := range items {
		chat := chatOf(it)
		if _, ok := groups[chat]; !ok {
			order = append(order, chat)
		}
		groups[chat] = append(groups[chat], it)
	}
	return order, groups
}

// eachChat runs fn for every chat of order, at most workers at once, and
// returns when all are done. A single chat runs in the caller's goroutine.
func eachChat(order []int64, workers int, fn func(chat int64)) {
	if len(order) == 1 {
		fn(order[0])
		return
	}
	sem := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	for _, chat := range order {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(chat)
		})
	}
	wg.Wait()
}
