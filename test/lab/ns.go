package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netnsDir is where named namespaces live, as for `ip netns`.
const netnsDir = "/run/netns"

// NS is one named network namespace of a lab. Its methods are safe for
// concurrent use; after the lab is closed they fail.
type NS struct {
	// Name is the namespace's name under /run/netns, for `ip netns exec`.
	Name string
}

// Path is the namespace's bind mount, for nsenter --net= or setns.
func (ns *NS) Path() string { return filepath.Join(netnsDir, ns.Name) }

// Do calls fn on a locked OS thread inside the namespace and returns its
// error. Sockets fn creates belong to the namespace and may be used from
// any goroutine afterwards. fn runs on another goroutine, so it must not
// call t.Fatal. If the thread cannot be moved back, it is left locked and
// exits with that goroutine, so no other code runs in the wrong namespace.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No deferred UnlockOSThread: the thread is unlocked only once it
		// is back in its own namespace.
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("netns %s: current namespace: %w", ns.Name, err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(ns.Path())
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: open: %w", ns.Name, err)
			return
		}
		err = netns.Set(target)
		target.Close()
		if err != nil {
			// A failed setns leaves the thread where it was, but be safe:
			// let it die with this goroutine.
			errc <- fmt.Errorf("netns %s: enter: %w", ns.Name, err)
			return
		}
		err = fn()
		if rerr := netns.Set(orig); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("netns %s: restore thread: %w", ns.Name, rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// Command returns a command that runs name inside the namespace, through
// nsenter (util-linux, on every Debian). Like exec.CommandContext, ctx
// kills it. Whatever runs in a lab's namespaces when the lab is closed is
// killed by Close, whether started here or by `ip netns exec`.
func (ns *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + ns.Path(), "--", name}, args...)...)
}

// Sysctl sets a sysctl of this namespace, such as "net.ipv4.tcp_fastopen".
// Only names under net. are per namespace; others are refused, as they
// would change the whole machine.
func (ns *NS) Sysctl(name, value string) error {
	if !strings.HasPrefix(name, "net.") || strings.Contains(name, "/") || strings.Contains(name, "..") {
		return fmt.Errorf("sysctl %s: not a per-namespace net.* name", name)
	}
	path := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
	// /proc/sys/net belongs to the namespace of the thread that opens the
	// file, so the open must happen inside Do.
	return ns.Do(func() error {
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s in %s: %w", name, value, ns.Name, err)
		}
		return nil
	})
}

// createNamed makes a new network namespace bound at /run/netns/name.
// It fails with an error matching fs.ErrExist if the name is taken.
// The namespace is made on a thread that then exits, so no thread of this
// process is left inside it.
func createNamed(name string) error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", netnsDir, err)
	}
	path := filepath.Join(netnsDir, name)
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread is in the new namespace when this
		// goroutine returns, and the runtime then ends it.
		runtime.LockOSThread()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
		if err != nil {
			errc <- fmt.Errorf("create netns %s: %w", name, err)
			return
		}
		f.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			os.Remove(path)
			errc <- fmt.Errorf("create netns %s: unshare: %w", name, err)
			return
		}
		self := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			os.Remove(path)
			errc <- fmt.Errorf("create netns %s: bind mount: %w", name, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// deleteNamed kills every process in the named namespace and removes its
// name. The namespace itself goes, with its links, once nothing holds it.
// A name that is already gone is not an error.
func deleteNamed(name string) error {
	path := filepath.Join(netnsDir, name)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("delete netns %s: %w", name, err)
	}
	err := killIn(st.Dev, st.Ino)
	// MNT_DETACH: a process still entering the namespace does not block it.
	if uerr := unix.Unmount(path, unix.MNT_DETACH); uerr != nil && !errors.Is(uerr, unix.EINVAL) && !errors.Is(uerr, unix.ENOENT) {
		// EINVAL: not a mount point (a half-made namespace, or another
		// process unmounted it just now); just remove.
		return errors.Join(err, fmt.Errorf("delete netns %s: unmount: %w", name, uerr))
	}
	// Once more: nsenter may have opened the name before the first pass and
	// entered after it. No one can open the name any more.
	err = errors.Join(err, killIn(st.Dev, st.Ino))
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("delete netns %s: %w", name, rerr))
	}
	return err
}

// killIn sends SIGKILL to every process whose network namespace is the
// nsfs inode (dev, ino), except this process. It looks at each process's
// main thread, which is where a program started inside the namespace
// lives.
func killIn(dev, ino uint64) error {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	var errs []error
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		// Stat follows the ns/net magic link to the namespace's inode. It
		// fails for processes that exited meanwhile, and for zombies.
		if unix.Stat("/proc/"+p.Name()+"/ns/net", &st) != nil || st.Dev != dev || st.Ino != ino {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}
