package test

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/pfcp/pfcptest"
	"github.com/openatsss/atsss/steering/ll/gtpu"
	"github.com/openatsss/atsss/steering/pmf"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/ransim"
	"github.com/openatsss/atsss/test/rig"
)

// llDaemon is an ATSSS-LL session installed by smfsim in atsssd (with
// its ATSSS-LL data path and PMF server), a RAN simulator in the lab's ue
// namespace playing the UE, its gNB and its N3IWF, and a UDP echo server
// in dn.
type llDaemon struct {
	rig *rig.Rig
	ue  *rig.UE
	ran *ransim.RAN
	dn  *net.UDPConn
	seq uint16 // of the UE's PMF requests and of the echo payloads
}

// llPMFUEPort is the UE's PMF port on both accesses.
const llPMFUEPort = 5555

func newLLDaemon(t *testing.T) *llDaemon {
	t.Helper()
	r := newRig(t, rig.Options{
		Lab:     lab.Config{Name: "lldaemon"},
		ATSSSLL: map[string]any{"routes": []string{llPool.String()}},
		PMF:     map[string]any{"echo_interval": "100ms"},
	})
	d := &llDaemon{rig: r}
	var err error
	// Active-Standby, 3GPP active; ATSSS-LL and PMF.
	if d.ue, err = r.Establish(t.Context(), rig.SessionSpec{CPSEID: 1, UE: llUE, Functionality: "atsss-ll"}); err != nil {
		t.Fatal(err)
	}
	// smfsim's session is pfcptest.DefaultSpec's with the lab UE's
	// addresses as the gNB and the N3IWF.
	spec := pfcptest.DefaultSpec()
	cfg := ransim.Config{QFI: spec.QFI}
	for a, tun := range [2]*pfcptest.Tunnel{spec.GNB, spec.N3IWF} {
		cfg.ULTEID[a], cfg.DLTEID[a] = tun.UPF.TEID, tun.AN.TEID
		cfg.AN[a] = netip.AddrPortFrom(lab.Access[a].UEAddr, gtpu.Port)
		cfg.UPF[a] = netip.AddrPortFrom(lab.Access[a].UPFAddr, gtpu.Port)
	}
	if err := r.Lab.UE.Do(func() error {
		var err error
		d.ran, err = ransim.New(cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { d.ran.Run(t.Context()); close(done) }()
	t.Cleanup(func() { d.ran.Close(); <-done })
	if err := r.Lab.DN.Do(func() error {
		var err error
		d.dn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(llDN))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.dn.Close() })
	go d.echo()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ran %+v\natsssd log:\n%s", d.ran.Stats(), r.Daemon.Log())
		}
	})
	return d
}

// echo sends back every datagram dn receives, until dn is closed.
func (d *llDaemon) echo() {
	buf := make([]byte, 2048)
	for {
		n, from, err := d.dn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		_, _ = d.dn.WriteToUDPAddrPort(buf[:n], from)
	}
}

// receive returns the next downlink packet that want accepts, skipping
// others (the PMF server's own echoes, late replies). The deadline is a
// liveness guard, not a timing assertion.
func (d *llDaemon) receive(t *testing.T, wait time.Duration, want func(p ransim.Packet) bool) (ransim.Packet, bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case p := <-d.ran.C():
			if want(p) {
				return p, true
			}
		case <-deadline:
			return ransim.Packet{}, false
		}
	}
}

// roundTrip has the UE send a datagram over via to dn's echo server and
// returns the access its echo came back on; ok false if it did not within
// wait (the uplink or the downlink was dropped).
func (d *llDaemon) roundTrip(t *testing.T, via atsss.AccessType, wait time.Duration) (atsss.AccessType, bool) {
	t.Helper()
	d.seq++
	payload := fmt.Appendf(nil, "echo %d", d.seq)
	if err := d.ran.Send(via, ransim.UDP4(netip.AddrPortFrom(llUE, llUEPort), llDN, payload)); err != nil {
		t.Fatal(err)
	}
	p, ok := d.receive(t, wait, func(p ransim.Packet) bool {
		src, _, got, ok := ransim.ParseUDP4(p.IP)
		return ok && src == llDN && bytes.Equal(got, payload)
	})
	return p.Access, ok
}

// steady waits until downlink comes back on want, the data path having
// applied a change, then checks that the next round trips do too.
func (d *llDaemon) steady(t *testing.T, what string, want atsss.AccessType) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, ok := d.roundTrip(t, atsss.Access3GPP, 200*time.Millisecond)
		if ok && got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: downlink never came on %v (last: %v, received %v)", what, want, got, ok)
		}
	}
	for i := range 20 {
		// The UE keeps sending on 3GPP: ATSSS-LL steers the downlink only.
		got, ok := d.roundTrip(t, atsss.Access3GPP, 20*time.Second)
		if !ok || got != want {
			t.Fatalf("%s: round trip %d came back on %v (received %v), want %v", what, i, got, ok, want)
		}
	}
}

// pmf has the UE send the PMF request m to atsssd's PMF port of access
// port, over access via, and waits for the answer (ACK or ECHO RESPONSE):
// it must come from that port and on that access, whatever the MAR says.
func (d *llDaemon) pmf(t *testing.T, via, port atsss.AccessType, m pmf.Message) {
	t.Helper()
	d.seq++
	m.Seq = d.seq
	b, err := m.Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	server := netip.AddrPortFrom(netip.MustParseAddr(daemontest.ProxyAddr), daemontest.PMFPort+uint16(port))
	if err := d.ran.Send(via, ransim.UDP4(netip.AddrPortFrom(llUE, llPMFUEPort), server, b)); err != nil {
		t.Fatal(err)
	}
	p, ok := d.receive(t, 20*time.Second, func(p ransim.Packet) bool {
		src, dst, payload, ok := ransim.ParseUDP4(p.IP)
		if !ok || src != server || dst.Port() != llPMFUEPort {
			return false
		}
		got, err := pmf.Parse(payload)
		return err == nil && got.Seq == m.Seq && (got.Type == pmf.TypeAck || got.Type == pmf.TypeEchoResponse)
	})
	if !ok {
		t.Fatalf("no answer to PMF %v sent over %v to %v", m.Type, via, server)
	}
	if p.Access != port {
		t.Errorf("the answer to PMF %v from %v came on %v, want %v", m.Type, server, p.Access, port)
	}
}

// TestNetnsATSSSLLDaemon runs atsssd itself with its ATSSS-LL data path:
// smfsim installs an Active-Standby ATSSS-LL session (3GPP active) over N4,
// the UE's UDP goes through GTP-U, atsssd's TUN and N6 to dn and back, and
// the downlink switches to the standby when the SMF reports 3GPP
// unavailable (N4) and when the UE does (PMF ACCESS REPORT, itself carried
// in the GTP-U tunnels), and back when 3GPP returns.
func TestNetnsATSSSLLDaemon(t *testing.T) {
	d := newLLDaemon(t)
	ctx := t.Context()
	d.steady(t, "established", atsss.Access3GPP)

	// N4: the SMF reports 3GPP unavailable, then available.
	if err := d.ue.SetAvailable(ctx, atsss.Access3GPP, false); err != nil {
		t.Fatal(err)
	}
	d.steady(t, "n4 3gpp unavailable", atsss.AccessNon3GPP)
	if err := d.ue.SetAvailable(ctx, atsss.Access3GPP, true); err != nil {
		t.Fatal(err)
	}
	d.steady(t, "n4 3gpp available", atsss.Access3GPP)

	// PMF in the tunnels: echoes over each access are answered on it.
	for _, a := range atsss.Accesses {
		d.pmf(t, a, a, pmf.Message{Type: pmf.TypeEchoRequest, Timestamp: 1})
	}
	// The UE reports 3GPP unavailable over non-3GPP: downlink moves. The
	// PMF answers on 3GPP's port still go on 3GPP, which the MAR no longer
	// uses: PMF messages are never steered.
	d.pmf(t, atsss.AccessNon3GPP, atsss.AccessNon3GPP, pmf.Message{Type: pmf.TypeAccessReport, Access: atsss.Access3GPP, Available: false})
	d.steady(t, "pmf 3gpp unavailable", atsss.AccessNon3GPP)
	d.pmf(t, atsss.Access3GPP, atsss.Access3GPP, pmf.Message{Type: pmf.TypeEchoRequest, Timestamp: 2})
	d.pmf(t, atsss.AccessNon3GPP, atsss.AccessNon3GPP, pmf.Message{Type: pmf.TypeAccessReport, Access: atsss.Access3GPP, Available: true})
	d.steady(t, "pmf 3gpp available", atsss.Access3GPP)
	t.Logf("ran %+v", d.ran.Stats())
}
