package mptcpproxy

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/openatsss/atsss/atsss"
)

// watchLinks follows the operational state of the access links (Config.
// AccessLinks) in atsssd's namespace until ctx ends, and tells the steerer
// when all links of an access went down or one came back. A link is up
// when its operational state is up (or unknown, for links that report
// none, with the interface up): a veth whose peer went down is
// "lower layer down", an N3 interface with no carrier is "down". The
// accesses start as available; a link that never appears changes nothing.
func (p *Proxy) watchLinks(ctx context.Context) error {
	updates := make(chan netlink.LinkUpdate, 256)
	done := make(chan struct{})
	defer close(done)
	failed := make(chan error, 1)
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ListExisting: true,
		ErrorCallback: func(err error) {
			select {
			case failed <- err:
			default:
			}
		},
	})
	if err != nil {
		return fmt.Errorf("access links: subscribe: %w", err)
	}
	// up holds the state of the access links seen so far; other links'
	// updates are not kept.
	up := map[string]bool{}
	tracked := map[string]bool{}
	for _, a := range atsss.Accesses {
		for _, n := range p.cfg.AccessLinks.of(a) {
			tracked[n] = true
		}
	}
	var down [2]bool
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			return fmt.Errorf("access links: %w", err)
		case u, ok := <-updates:
			if !ok {
				return fmt.Errorf("access links: netlink subscription closed")
			}
			attrs := u.Attrs()
			if !tracked[attrs.Name] {
				continue
			}
			if u.Header.Type == unix.RTM_DELLINK {
				delete(up, attrs.Name)
			} else {
				up[attrs.Name] = linkUp(attrs)
			}
			for _, a := range atsss.Accesses {
				links := p.cfg.AccessLinks.of(a)
				if len(links) == 0 {
					continue
				}
				known := slices.ContainsFunc(links, func(n string) bool { _, ok := up[n]; return ok })
				now := known && !slices.ContainsFunc(links, func(n string) bool { return up[n] })
				if now == down[a] {
					continue
				}
				down[a] = now
				p.log.Info("access link state", "access", a.String(), "down", now, "links", links)
				p.steer.linkChanged(a, now, time.Now())
				if p.onLink != nil {
					p.onLink(a, !now)
				}
			}
		}
	}
}

func linkUp(a *netlink.LinkAttrs) bool {
	switch a.OperState {
	case netlink.OperUp:
		return true
	case netlink.OperUnknown:
		return a.Flags&net.FlagUp != 0
	}
	return false
}
