// Package netnstest gates and runs tests that need network namespaces.
//
// Such tests are named TestNetns* and are Linux-only. Without the privilege
// to create a namespace they skip, except under CI=true, where a missing
// privilege is a failure: CI must never pass by skipping them.
package netnstest

import (
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Require skips t (or fails it under CI=true) unless the process may
// create network namespaces.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root to create network namespaces, and CI=true forbids skipping it")
	}
	t.Skip("needs root to create network namespaces")
}

// Run calls fn on a locked OS thread inside a new, unnamed network
// namespace whose lo is up, then returns the thread to the namespace it
// came from. Sockets fn creates stay in the new namespace and may be used
// from any goroutine afterwards; the namespace goes when the last of them
// is closed. fn runs on another goroutine, so it must not call t.Fatal; an
// error it returns fails t. Run calls Require first.
func Run(t testing.TB, fn func() error) {
	t.Helper()
	Require(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			t.Errorf("netns get: %v", err)
			return
		}
		defer orig.Close()
		ns, err := netns.New() // also switches this thread to it
		if err != nil {
			t.Errorf("netns new: %v", err)
			return
		}
		defer ns.Close()
		defer func() {
			if err := netns.Set(orig); err != nil {
				// The thread stays locked and dies with this goroutine,
				// so no other goroutine runs in the wrong namespace.
				t.Errorf("netns restore: %v", err)
				return
			}
			runtime.UnlockOSThread()
		}()
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			t.Errorf("lo up: %v", err)
			return
		}
		if err := fn(); err != nil {
			t.Error(err)
		}
	}()
	<-done
	if t.Failed() {
		t.FailNow()
	}
}
