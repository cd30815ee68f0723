package main

import "fmt"

// fetchAll gets every page of a list, from page token, by calling page with
// each page token in turn until the server returns no next token. A server
// that returns the token it was given would loop forever: that is an error
// naming what (e.g. "list policies"). page's errors are returned as they
// are, so that a gRPC status still sets the exit code.
func fetchAll[T any](what, token string, page func(token string) (items []T, next string, err error)) ([]T, error) {
	var all []T
	for {
		items, next, err := page(token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		if next == token {
			return nil, fmt.Errorf("%s: the server returned the same page token twice", what)
		}
		token = next
	}
}
