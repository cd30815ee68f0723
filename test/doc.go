// Package test holds atsss's end-to-end tests: the commands run as real
// processes (atsssd, smfsim) over real sockets, checked with real peers
// such as tshark. Helpers live in the *test subpackages; test/demo is the
// README's main job.
package test
