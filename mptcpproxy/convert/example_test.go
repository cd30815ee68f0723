package convert_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/openatsss/atsss/mptcpproxy/convert"
)

// A UE asks the converter for a server; the converter reads the request,
// leaves the application data in the stream, and answers.
func Example() {
	// UE: the Convert message, then the first application bytes, in the SYN.
	dst := netip.MustParseAddrPort("198.51.100.10:443")
	syn, _ := convert.AppendMessage(nil, convert.ConnectMessage(dst, nil))
	syn = append(syn, "hello"...)

	// Converter: read exactly the message, and check it came from a client.
	r := bytes.NewReader(syn)
	m, err := convert.ReadMessage(r)
	if err == nil {
		err = m.Check(convert.FromClient)
	}
	if de := (*convert.DecodeError)(nil); errors.As(err, &de) {
		reply, _ := convert.AppendMessage(nil, convert.ErrorMessage(de.Code, de.Value))
		fmt.Printf("refuse with % x\n", reply)
		return
	}
	c, _ := m.Connect()
	rest, _ := io.ReadAll(r)
	fmt.Printf("connect to %v, then relay %q\n", c.Addr, rest)

	// Converter: the server accepted; pass back its SYN+ACK options.
	reply, _ := convert.AppendMessage(nil, convert.ExtendedTCPHeaderMessage([]byte{2, 4, 5, 0xb4}))
	fmt.Printf("reply % x\n", reply)
	// Output:
	// connect to 198.51.100.10:443, then relay "hello"
	// reply 01 03 22 63 14 02 00 00 02 04 05 b4
}

// A converter answers a message it cannot parse with the Error code and
// value the DecodeError carries.
func ExampleDecodeError() {
	_, _, err := convert.Parse([]byte{0x01, 0x02, 0x22, 0x63, 0x05, 0x01, 0x00, 0x00})
	var de *convert.DecodeError
	if errors.As(err, &de) {
		reply, _ := convert.AppendMessage(nil, convert.ErrorMessage(de.Code, de.Value))
		fmt.Println(err)
		fmt.Printf("% x\n", reply)
	}
	// Output:
	// convert: Unsupported Message at byte 4: TLV type 5 is not supported
	// 01 04 22 63 1e 03 02 00 01 02 22 63 05 01 00 00
}
