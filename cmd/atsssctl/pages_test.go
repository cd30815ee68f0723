package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFetchAll(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		pages   map[string][]string // token → items, then the next token last
		want    []string
		wantErr string
	}{
		{name: "one page", pages: map[string][]string{"": {"a", "b", ""}}, want: []string{"a", "b"}},
		{name: "three pages", pages: map[string][]string{"": {"a", "1"}, "1": {"b", "2"}, "2": {"c", ""}}, want: []string{"a", "b", "c"}},
		{name: "empty", pages: map[string][]string{"": {""}}},
		{name: "same token twice", pages: map[string][]string{"": {"a", "1"}, "1": {"b", "1"}}, wantErr: "list things: the server returned the same page token twice"},
		{name: "error", pages: map[string][]string{"": {"a", "1"}}, wantErr: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fetchAll("list things", "", func(token string) ([]string, string, error) {
				p, ok := tt.pages[token]
				if !ok {
					return nil, "", boom
				}
				return p[:len(p)-1], p[len(p)-1], nil
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if tt.wantErr == "boom" && !errors.Is(err, boom) {
					t.Errorf("err = %v, not the page's error as is", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("fetchAll = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
