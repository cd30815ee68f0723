// Package rig runs the whole atsss data path in a lab: atsssd (N4 and the
// MPTCP proxy) inside the lab's upf namespace, smfsim playing the SMF there,
// UEs whose MA PDU sessions it installs, with their link-specific addresses
// on the lab UE's links and the UE's kernel path manager set to use both,
// and servers in the data network. End-to-end tests, benchmarks and the
// demo share it.
package rig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/openatsss/atsss/api/client"
	"github.com/openatsss/atsss/atsss"
	"github.com/openatsss/atsss/mptcpproxy/pm"
	"github.com/openatsss/atsss/steering/pmf"
	"github.com/openatsss/atsss/test/daemontest"
	"github.com/openatsss/atsss/test/lab"
	"github.com/openatsss/atsss/test/smfsimtest"
	"github.com/openatsss/atsss/test/uesim"
)

// Inside the upf namespace, N4 and the metrics listen on its own loopback,
// where nothing else runs.
var (
	n4Addr      = netip.MustParseAddrPort("127.0.0.1:8805")
	metricsAddr = netip.MustParseAddrPort("127.0.0.1:9100")
	smfAddr     = netip.MustParseAddrPort("127.0.0.2:8805")
)

// ProxyPort is the MPTCP proxy's port in the lab.
const ProxyPort = 8803

// Options shape a rig.
type Options struct {
	Lab lab.Config
	// Proxy holds mptcp_proxy settings on top of the rig's (enabled, the
	// N6 source address), by YAML name, e.g. {"max_connections_per_ue": 4}.
	Proxy map[string]any
	// PMF, if not nil, runs atsssd's PMF server with these pmf_server
	// settings by YAML name (enabled is set), e.g. {"echo_interval": "100ms"};
	// it needs {"steering": true} in Proxy.
	PMF map[string]any
	// ATSSS holds pfcp.atsss settings on top of the rig's, by YAML name,
	// e.g. {"redundant_mptcp": true}.
	ATSSS map[string]any
	// LogLevel of atsssd; default info.
	LogLevel string
	// ATSSSLL, if not nil, runs atsssd's ATSSS-LL data path with these
	// atsss_ll settings by YAML name on top of the rig's (enabled, n3 on
	// 0.0.0.0:2152, so on upf's address of each access), e.g.
	// {"routes": ["203.0.113.32/28"]}, the pool of the ATSSS-LL UEs. It
	// also has upf route between the data path's TUN device and N6, never
	// from an access link: the UE reaches N6 only through GTP-U.
	ATSSSLL map[string]any
	// API runs atsssd's gRPC API on APIAddr in upf, plaintext (loopback,
	// so every caller is an operator), for Ctl and DialAPI.
	API bool
}

// APIAddr is where atsssd serves its gRPC API inside upf (Options.API).
var APIAddr = netip.MustParseAddrPort("127.0.0.1:7788")

// CtlArgs are the arguments that Ctl puts before its own to point atsssctl
// at the rig's API, for showing the command as an operator would type it.
func CtlArgs() []string { return []string{"--addr", APIAddr.String(), "--plaintext"} }

// DNFlow is the SDF filter of the data network's server, as an operator
// writes it for an application: downlink from the server to the UE.
var DNFlow = fmt.Sprintf("permit out 6 from %v/32 to assigned", lab.DNAddr)

// PolicyFile is a policy file for atsssctl: policy policies/name for the
// downlink flows that SDF filter fd describes, with more YAML (steering,
// rate cap) appended.
func PolicyFile(name, fd, more string) string {
	return fmt.Sprintf("name: policies/%s\nmatch: {application: {flowDescription: %q}}\n%s", name, fd, more)
}

// Rig is a running lab with atsssd and an SMF. Close it when done.
type Rig struct {
	Lab    *lab.Lab
	Daemon *daemontest.Daemon
	SMF    smfsimtest.SMF
	dir    string // configuration and, when New built them, the binaries
	bin    string // atsssd, smfsim and atsssctl
}

// New builds the lab, builds and starts atsssd in its upf namespace, and
// waits until the MPTCP proxy accepts connections. bin, if not empty, is a
// directory holding the Binaries already built (daemontest.Build);
// otherwise New builds them into a temporary directory. On error it
// removes everything it made.
func New(ctx context.Context, bin string, opts Options) (r *Rig, err error) {
	r = &Rig{}
	defer func() {
		if err != nil {
			r.Close()
		}
	}()
	if r.dir, err = os.MkdirTemp("", "atsss-rig-"); err != nil {
		return nil, err
	}
	if bin == "" {
		if _, err = daemontest.Build(ctx, r.dir, Binaries...); err != nil {
			return nil, err
		}
		bin = r.dir
	}
	if r.Lab, err = lab.New(ctx, opts.Lab); err != nil {
		return nil, err
	}
	cfg := daemontest.Config(n4Addr, metricsAddr, [2]string{lab.Access[atsss.Access3GPP].Pool.String(), lab.Access[atsss.AccessNon3GPP].Pool.String()})
	if opts.LogLevel != "" {
		cfg["log_level"] = opts.LogLevel
	}
	proxy := map[string]any{"enabled": true, "n6_source4": lab.UPFN6Addr.String()}
	for k, v := range opts.Proxy {
		proxy[k] = v
	}
	cfg["mptcp_proxy"] = proxy
	atsssCfg := cfg["pfcp"].(map[string]any)["atsss"].(map[string]any)
	for k, v := range opts.ATSSS {
		atsssCfg[k] = v
	}
	if opts.PMF != nil {
		pmfCfg := map[string]any{"enabled": true}
		for k, v := range opts.PMF {
			pmfCfg[k] = v
		}
		cfg["pmf_server"] = pmfCfg
	}
	if opts.ATSSSLL != nil {
		llCfg := map[string]any{"enabled": true, "n3": "0.0.0.0:2152"}
		for k, v := range opts.ATSSSLL {
			llCfg[k] = v
		}
		cfg["atsss_ll"] = llCfg
		// Writing "all" sets every link and the default for new ones,
		// the TUN device among them.
		for _, s := range [][2]string{
			{"net.ipv4.conf.all.forwarding", "1"},
			{"net.ipv4.conf." + lab.Access[atsss.Access3GPP].Link + ".forwarding", "0"},
			{"net.ipv4.conf." + lab.Access[atsss.AccessNon3GPP].Link + ".forwarding", "0"},
		} {
			if err = r.Lab.UPF.Sysctl(s[0], s[1]); err != nil {
				return nil, err
			}
		}
	}
	if opts.API {
		cfg["api"] = map[string]any{"listen": APIAddr.String(), "plaintext": true}
	}
	r.bin = bin
	upf := func(name string, args ...string) *exec.Cmd {
		return r.Lab.UPF.Command(context.Background(), name, args...)
	}
	if r.Daemon, err = daemontest.StartIn(ctx, upf, bin+"/atsssd", r.dir, cfg, n4Addr, metricsAddr); err != nil {
		return nil, err
	}
	r.Daemon.HTTP = &http.Client{Transport: &http.Transport{DialContext: r.DialUPF}}
	r.SMF = smfsimtest.SMF{Bin: bin + "/smfsim", UPF: n4Addr, Local: smfAddr, Command: r.Lab.UPF.Command}
	if err := r.waitProxy(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Binaries are the commands a rig runs.
var Binaries = []string{"atsssd", "smfsim", "atsssctl"}

// Ctl runs atsssctl against atsssd's API (Options.API) inside upf, as an
// operator on the UPF's host would, with stdin given, and returns its
// standard output; an error carries its exit status and standard error.
func (r *Rig) Ctl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := r.Lab.UPF.Command(ctx, r.bin+"/atsssctl", append(CtlArgs(), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("atsssctl %s: %w\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}

// DialAPI connects to atsssd's API (Options.API) through upf.
func (r *Rig) DialAPI() (*grpc.ClientConn, error) {
	return client.Dial(client.Config{Addr: APIAddr.String(), Plaintext: true},
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return r.DialUPF(ctx, "tcp", addr) }))
}

// waitProxy waits for atsssd's "mptcp proxy listening" line.
func (r *Rig) waitProxy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err := daemontest.WaitFor(ctx, func() bool { return containsLine(r.Daemon.Log(), `"mptcp proxy listening"`) })
	if err != nil {
		return fmt.Errorf("mptcp proxy did not start: %w\n%s", err, r.Daemon.Log())
	}
	return nil
}

// Close stops atsssd and removes the lab and the rig's files. It is safe to
// call more than once.
func (r *Rig) Close() error {
	var errs []error
	if r.Daemon != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.Daemon.Stop(ctx); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("stop atsssd: %w", err))
		}
		cancel()
		r.Daemon = nil
	}
	if r.Lab != nil {
		errs = append(errs, r.Lab.Close())
		r.Lab = nil
	}
	if r.dir != "" {
		errs = append(errs, os.RemoveAll(r.dir))
		r.dir = ""
	}
	return errors.Join(errs...)
}

// DialUPF dials from inside the upf namespace (for atsssd's HTTP).
func (r *Rig) DialUPF(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := r.Lab.UPF.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// ListenDN opens a TCP listener on the data network server's address.
func (r *Rig) ListenDN(port uint16) (net.Listener, error) {
	var ln net.Listener
	err := r.Lab.DN.Do(func() error {
		lc := net.ListenConfig{}
		lc.SetMultipathTCP(false)
		var err error
		ln, err = lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(lab.DNAddr, port).String())
		return err
	})
	return ln, err
}

// UE is an installed MA PDU session and the lab UE's view of it.
type UE struct {
	SEID         atsss.SEID // the UPF's (UP) SEID
	CPSEID       atsss.SEID
	Addr         netip.Addr    // MA PDU session address
	LinkSpecific [2]netip.Addr // per access, from N4
	rig          *Rig
}

// SessionSpec is what Establish asks the SMF for.
type SessionSpec struct {
	CPSEID uint64
	UE     netip.Addr // MA PDU address; default 203.0.113.10 + CPSEID
	// Mode and Weights or Priorities of the MPTCP MAR (smfsim flags);
	// default active-standby with 3GPP active.
	Mode, Weights, Priorities string
	// Thresholds of the MAR (smfsim -thresholds), such as "rtt=20ms,plr=5".
	Thresholds string
	// ATSSS is smfsim's -atsss list, such as "mptcp,pmf,drtti"; default
	// smfsim's (mptcp and pmf).
	ATSSS string
	SDF   string // uplink (and downlink) PDR filter; default all traffic
	// Functionality of the MAR (smfsim -functionality): "mptcp" (the
	// default) or "atsss-ll". An ATSSS-LL session's gNB and N3IWF are the
	// lab UE's addresses on the two accesses (where a test/ransim RAN
	// listens), with pfcptest.DefaultSpec's TEIDs; it has no link-specific
	// addresses, and the rig needs Options.ATSSSLL.
	Functionality string
}

// Establish has the SMF install an MPTCP MA PDU session, puts its
// link-specific addresses on the lab UE's links and makes them MPTCP
// endpoints of the UE's kernel path manager (flag subflow), so every
// connection opened from one joins a subflow from the other.
func (r *Rig) Establish(ctx context.Context, s SessionSpec) (*UE, error) {
	if s.CPSEID == 0 {
		s.CPSEID = 1
	}
	if !s.UE.IsValid() {
		s.UE = netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + s.CPSEID%100)})
	}
	if s.Mode == "" {
		s.Mode, s.Priorities = "active-standby", "active/standby"
	}
	if s.Functionality == "" {
		s.Functionality = "mptcp"
	}
	args := []string{"-seid", strconv.FormatUint(s.CPSEID, 10), "-ue", s.UE.String(), "-functionality", s.Functionality, "-mode", s.Mode}
	if s.Functionality == "atsss-ll" {
		args = append(args, "-gnb", lab.Access[atsss.Access3GPP].UEAddr.String(), "-n3iwf", lab.Access[atsss.AccessNon3GPP].UEAddr.String())
	}
	w, p := s.Weights, s.Priorities
	if w == "" {
		w = "-/-"
	}
	if p == "" {
		p = "-/-"
	}
	args = append(args, "-weights", w, "-priorities", p)
	for _, f := range [][2]string{{"-thresholds", s.Thresholds}, {"-atsss", s.ATSSS}, {"-sdf", s.SDF}} {
		if f[1] != "" {
			args = append(args, f[0], f[1])
		}
	}
	out, err := r.SMF.Run(ctx, "establish", args...)
	if err != nil {
		return nil, err
	}
	o := out[len(out)-1]
	if s.Functionality == "atsss-ll" {
		if o.ATSSS == nil || !o.ATSSS.ATSSSLL {
			return nil, fmt.Errorf("establish: ATSSS-LL not granted in %+v", o)
		}
		return &UE{SEID: o.UPSEID, CPSEID: atsss.SEID(s.CPSEID), Addr: s.UE, rig: r}, nil
	}
	if o.ATSSS == nil || o.ATSSS.MPTCP == nil {
		return nil, fmt.Errorf("establish: no MPTCP parameters in %+v", o)
	}
	u := &UE{SEID: o.UPSEID, CPSEID: atsss.SEID(s.CPSEID), Addr: s.UE, rig: r}
	for _, a := range atsss.Accesses {
		addr := o.ATSSS.MPTCP.LinkSpecific[a].IPv4
		if !addr.IsValid() {
			return nil, fmt.Errorf("establish: no IPv4 link-specific address for %v", a)
		}
		u.LinkSpecific[a] = addr
		if err := r.Lab.AddUEAddr(a, addr); err != nil {
			return nil, err
		}
	}
	if err := r.Lab.UE.Do(func() error { return addEndpoints(u.LinkSpecific[:]) }); err != nil {
		return nil, fmt.Errorf("ue path manager: %w", err)
	}
	return u, nil
}

// addEndpoints makes each address a subflow endpoint of the calling
// namespace's in-kernel path manager, and sets limits so that a connection
// may use both accesses.
func addEndpoints(addrs []netip.Addr) error {
	c, err := pm.Open()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetLimits(pm.Limits{Subflows: 8, AddAddrAccepted: 8}); err != nil {
		return err
	}
	for _, a := range addrs {
		if err := c.AddEndpoint(pm.Endpoint{Addr: a, Flags: pm.FlagSubflow}); err != nil {
			return fmt.Errorf("endpoint %v: %w", a, err)
		}
	}
	return nil
}

// DropEndpoint deletes the UE's MPTCP endpoint of access a, as a UE's
// connection manager does when it loses the access: the kernel closes the
// subflows from it and tells the peers (REMOVE_ADDR).
func (u *UE) DropEndpoint(a atsss.AccessType) error {
	return u.endpoints(func(c *pm.Client, eps []pm.Endpoint) error { return u.deleteEndpoints(c, eps, a) })
}

func (u *UE) deleteEndpoints(c *pm.Client, eps []pm.Endpoint, a atsss.AccessType) error {
	for _, e := range eps {
		if e.Addr == u.LinkSpecific[a] {
			if err := c.DeleteEndpoint(e.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rejoin re-adds the UE's endpoint for access a, as a UE's connection
// manager does when a link comes back: the kernel path manager then opens
// a subflow from it on every connection that lacks one. An endpoint of a
// still there is deleted first.
//
// The endpoint comes back under a new ID. Deleting it sends the peer a
// REMOVE_ADDR for its old ID over the other access; had the kernel given
// the new endpoint the lowest free ID, the same one, a REMOVE_ADDR still on
// its way would close the new subflow as soon as it joined (seen about one
// run in three). A new ID does not help on the address of a connection's
// first subflow: the kernel names that address ID 0 whatever its
// endpoint's ID, in the REMOVE_ADDR and in the new join alike. So drop the
// endpoint when the link goes (LinkDown does), not here.
func (u *UE) Rejoin(a atsss.AccessType) error {
	return u.endpoints(func(c *pm.Client, eps []pm.Endpoint) error {
		var highest uint8
		for _, e := range eps {
			highest = max(highest, e.ID)
		}
		if highest == 255 {
			return errors.New("rejoin: endpoint IDs exhausted")
		}
		if err := u.deleteEndpoints(c, eps, a); err != nil {
			return err
		}
		return c.AddEndpoint(pm.Endpoint{ID: highest + 1, Addr: u.LinkSpecific[a], Flags: pm.FlagSubflow})
	})
}

// LinkDown takes access a's link down, and the UE's connection manager
// drops its endpoint on it as one does when it loses a link. The
// REMOVE_ADDR that sends goes over the other access during the outage: sent
// only when the link is back, just before the rejoin, it could reach the
// proxy after the new subflow from the same address and close it (seen in
// about one run in ten with the first subflow's access; see Rejoin).
func (u *UE) LinkDown(a atsss.AccessType) error {
	if err := u.rig.Lab.Cut(a, lab.LinkDown); err != nil {
		return err
	}
	return u.DropEndpoint(a)
}

// LinkUp restores access a and has the UE rejoin it.
func (u *UE) LinkUp(a atsss.AccessType) error {
	if err := u.rig.Lab.Restore(a); err != nil {
		return err
	}
	return u.Rejoin(a)
}

// endpoints calls fn in the UE's namespace with a path manager client and
// the namespace's MPTCP endpoints.
func (u *UE) endpoints(fn func(*pm.Client, []pm.Endpoint) error) error {
	return u.rig.Lab.UE.Do(func() error {
		c, err := pm.Open()
		if err != nil {
			return err
		}
		defer c.Close()
		eps, err := c.Endpoints()
		if err != nil {
			return err
		}
		return fn(c, eps)
	})
}

// Dialer returns a UE dialer whose first subflow goes over first.
func (u *UE) Dialer(first atsss.AccessType) *uesim.Dialer {
	return &uesim.Dialer{
		InNamespace: u.rig.Lab.UE.Do,
		Proxy:       netip.AddrPortFrom(lab.ProxyAddr, ProxyPort),
		Sources:     []netip.Addr{u.LinkSpecific[first], u.LinkSpecific[first.Other()]},
	}
}

// SetAvailable has the SMF tell the UPF that access a of the session became
// available or unavailable (Access Availability Information, TS 29.244
// §5.20.4.1), as an SMF does when the UE leaves or regains an access.
func (u *UE) SetAvailable(ctx context.Context, a atsss.AccessType, available bool) error {
	flag := "-unavailable"
	if available {
		flag = "-available"
	}
	_, err := u.rig.SMF.Run(ctx, "modify", "-up-seid", strconv.FormatUint(uint64(u.SEID), 10), flag, a.String())
	return err
}

// StartPMF runs the lab UE's PMF client (steering/pmf) for the session in
// the UE namespace, from the session's link-specific address on each
// access to atsssd's PMF address and port for that access, and sends one
// echo over each access so that atsssd learns the UE's PMF addresses. It
// stops when ctx ends.
func (u *UE) StartPMF(ctx context.Context) (*pmf.Client, error) {
	server := netip.MustParseAddr(daemontest.ProxyAddr)
	cfg := pmf.ClientConfig{}
	for _, a := range atsss.Accesses {
		cfg.Server[a] = netip.AddrPortFrom(server, daemontest.PMFPort+uint16(a))
		cfg.Local[a] = netip.AddrPortFrom(u.LinkSpecific[a], 0)
	}
	var c *pmf.Client
	if err := u.rig.Lab.UE.Do(func() error {
		var err error
		c, err = pmf.NewClient(cfg)
		return err
	}); err != nil {
		return nil, err
	}
	go c.Run(ctx)
	for _, a := range atsss.Accesses {
		if _, err := c.Echo(ctx, a); err != nil {
			c.Close()
			return nil, fmt.Errorf("pmf echo over %v: %w", a, err)
		}
	}
	return c, nil
}

// Delete has the SMF delete the session.
func (u *UE) Delete(ctx context.Context) error {
	_, err := u.rig.SMF.Run(ctx, "delete", "-up-seid", strconv.FormatUint(uint64(u.SEID), 10))
	return err
}

func containsLine(log, s string) bool { return strings.Contains(log, s) }
