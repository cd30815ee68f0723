package server

import "sync"

// fanout hands values to every subscriber without blocking: a subscriber
// with no room is dropped (its channel closed), so that a slow watcher
// never holds up the producer or the others. The zero value is not usable:
// make one with newFanout.
type fanout[T any] struct {
	buffer int

	mu   sync.Mutex // guards subs
	subs map[chan T]struct{}
}

func newFanout[T any](buffer int) *fanout[T] {
	return &fanout[T]{buffer: buffer, subs: map[chan T]struct{}{}}
}

// subscribe returns a channel of the values published from now on, closed
// if the subscriber falls behind, and a function that ends the
// subscription and reports how many subscribers are left.
func (f *fanout[T]) subscribe() (<-chan T, func() int) {
	c := make(chan T, f.buffer)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[c] = struct{}{}
	return c, func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[c]; ok {
			delete(f.subs, c)
			close(c)
		}
		return len(f.subs)
	}
}

// len returns the number of subscribers.
func (f *fanout[T]) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// publish hands vs, in order, to every subscriber.
func (f *fanout[T]) publish(vs ...T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.subs {
		for _, v := range vs {
			select {
			case c <- v:
				continue
			default:
			}
			delete(f.subs, c)
			close(c)
			break
		}
	}
}
