// Command protovalidate-proto prints buf/validate/validate.proto from the
// descriptor compiled into protovalidate's generated Go package, to vendor it
// in api/third_party: the BSR (buf.build), the only published home of the
// .proto source, is not reachable from our build machines.
//
// Run from the repository root after bumping the version in go.mod:
//
//	go -C tools/protovalidate run . > /tmp/v.proto
//
// then keep the header comment of api/third_party/buf/validate/validate.proto,
// replace the rest with /tmp/v.proto and run `buf format -w` in api/.
package main

import (
	"fmt"
	"os"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/jhump/protoreflect/v2/protoprint"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "protovalidate-proto:", err)
		os.Exit(1)
	}
}

func run() error {
	var p protoprint.Printer
	if err := p.PrintProtoFile(validate.File_buf_validate_validate_proto, os.Stdout); err != nil {
		return fmt.Errorf("print: %w", err)
	}
	return nil
}
