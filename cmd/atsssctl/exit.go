package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Exit codes; see rootLong.
const (
	exitOK         = 0
	exitLocal      = 1
	exitUsage      = 2
	exitNotServing = 4
	// exitStatusBase + a gRPC status code is the exit code of a failed
	// call, as grpcurl does.
	exitStatusBase = 64
)

// usageError is a bad command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitError ends the command with its own code and message.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// report prints err on stderr and returns the exit code for it. cmd is the
// command that ran or failed to parse.
func (a *app) report(cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	if st, ok := grpcStatus(err); ok {
		writeStatus(a.stderr, st)
		return exitCode(st.Code())
	}
	fmt.Fprintf(a.stderr, "atsssctl: %v\n", err)
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ue):
		path := "atsssctl"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", path)
		return exitUsage
	case errors.As(err, &ee):
		return ee.code
	}
	return exitLocal
}

// grpcStatus finds a gRPC status in err's chain. status.FromError would
// also accept a wrapped status but then replaces its message by the whole
// error text.
func grpcStatus(err error) (*status.Status, bool) {
	var se interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &se) {
		return nil, false
	}
	st := se.GRPCStatus()
	return st, st != nil && st.Code() != codes.OK
}

// exitCode maps a status code to the exit code 64 + code; codes beyond the
// defined ones count as Unknown so that the exit code stays below 128.
func exitCode(c codes.Code) int {
	if c > codes.Unauthenticated {
		c = codes.Unknown
	}
	return exitStatusBase + int(c)
}

// writeStatus prints st as "atsssctl: <code>: <message>" and then one
// indented line per field violation or other detail.
func writeStatus(w io.Writer, st *status.Status) {
	fmt.Fprintf(w, "atsssctl: %s: %s\n", st.Code(), st.Message())
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				line := "  " + v.GetField() + ": " + v.GetDescription()
				if v.GetReason() != "" {
					line += " [" + v.GetReason() + "]"
				}
				fmt.Fprintln(w, line)
			}
		case *validate.Violations:
			for _, v := range d.GetViolations() {
				line := "  " + fieldPath(v.GetField())
				if v.GetForKey() {
					line += " (key)"
				}
				line += ": " + v.GetMessage()
				if v.GetRuleId() != "" {
					line += " [" + v.GetRuleId() + "]"
				}
				fmt.Fprintln(w, line)
			}
		case proto.Message:
			// Other google.rpc details (ErrorInfo, RetryInfo, ...): print
			// them whole rather than drop them.
			b, err := protojson.Marshal(d)
			if err == nil {
				fmt.Fprintf(w, "  %s: %s\n", d.ProtoReflect().Descriptor().FullName(), compactJSON(b))
			}
		}
		// A detail whose type is not linked in comes as an error: skipped.
	}
}

// fieldPath renders a protovalidate field path as "a.b[2].c". It mirrors
// protovalidate.FieldPathString, which lives in the validator package and
// would link the whole CEL runtime into this binary.
func fieldPath(p *validate.FieldPath) string {
	var b strings.Builder
	for i, e := range p.GetElements() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.GetFieldName())
		var sub string
		switch e.WhichSubscript() {
		case validate.FieldPathElement_Index_case:
			sub = strconv.FormatUint(e.GetIndex(), 10)
		case validate.FieldPathElement_BoolKey_case:
			sub = strconv.FormatBool(e.GetBoolKey())
		case validate.FieldPathElement_IntKey_case:
			sub = strconv.FormatInt(e.GetIntKey(), 10)
		case validate.FieldPathElement_UintKey_case:
			sub = strconv.FormatUint(e.GetUintKey(), 10)
		case validate.FieldPathElement_StringKey_case:
			sub = strconv.Quote(e.GetStringKey())
		default:
			continue
		}
		b.WriteString("[" + sub + "]")
	}
	if b.Len() == 0 {
		return "(message)"
	}
	return b.String()
}
