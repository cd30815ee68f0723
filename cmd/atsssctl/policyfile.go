package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"gopkg.in/yaml.v3"

	atsssv1 "github.com/openatsss/atsss/api/atsss/v1"
)

var jsonPosition = regexp.MustCompile(`\(line \d+:\d+\): `)

// maxYAMLNodes bounds the work on one document: YAML aliases can make a
// small file expand to a huge tree.
const maxYAMLNodes = 100_000

// decodePolicies reads the policies of a YAML stream, one per document.
// source names the stream in errors. Each document goes YAML → JSON →
// protojson.Unmarshal (unknown fields rejected).
//
// The YAML → JSON step is driven by the message descriptor rather than by
// YAML's own typing, because YAML types scalars by their look: "sd: 000001"
// or "dnn: 1234" would become numbers for string fields. It also gives
// errors the YAML line, expands short enum names and rejects unknown or
// repeated fields before protojson sees them.
func decodePolicies(r io.Reader, source string) ([]*atsssv1.Policy, error) {
	dec := yaml.NewDecoder(r)
	var policies []*atsssv1.Policy
	names := make(map[string]int) // policy name → line
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", source, doc, err)
		}
		if len(n.Content) == 0 || isNull(n.Content[0]) {
			continue // an empty document, e.g. after a trailing ---
		}
		body := n.Content[0]
		c := &yamlToJSON{source: source}
		var buf bytes.Buffer
		if err := c.message(&buf, body, (&atsssv1.Policy{}).ProtoReflect().Descriptor()); err != nil {
			return nil, err
		}
		p := &atsssv1.Policy{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(buf.Bytes(), p); err != nil {
			// The position protojson gives is in the generated JSON, not
			// in the file: drop it.
			msg := jsonPosition.ReplaceAllString(err.Error(), "")
			return nil, fmt.Errorf("%s:%d: policy: %s", source, body.Line, msg)
		}
		if p.GetName() == "" {
			return nil, fmt.Errorf("%s:%d: policy without a name", source, body.Line)
		}
		if !strings.HasPrefix(p.Name, policyPrefix) {
			p.Name = policyPrefix + p.Name
		}
		if line, dup := names[p.Name]; dup {
			return nil, fmt.Errorf("%s:%d: policy %s is already in the file at line %d", source, body.Line, p.Name, line)
		}
		names[p.Name] = body.Line
		policies = append(policies, p)
	}
	if len(policies) == 0 {
		return nil, fmt.Errorf("%s: no policy in the file", source)
	}
	return policies, nil
}

// yamlToJSON converts one YAML document to protojson input for a message
// type.
type yamlToJSON struct {
	source string
	nodes  int
}

func (c *yamlToJSON) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", c.source, n.Line, fmt.Sprintf(format, args...))
}

// resolve follows aliases and counts the nodes converted.
func (c *yamlToJSON) resolve(n *yaml.Node) (*yaml.Node, error) {
	for depth := 0; n.Kind == yaml.AliasNode; depth++ {
		if n.Alias == nil || depth > 100 {
			return nil, c.errorf(n, "bad alias")
		}
		n = n.Alias
	}
	c.nodes++
	if c.nodes > maxYAMLNodes {
		return nil, c.errorf(n, "document too large (over %d nodes)", maxYAMLNodes)
	}
	return n, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// message writes the mapping n as the JSON object of message md.
func (c *yamlToJSON) message(buf *bytes.Buffer, n *yaml.Node, md protoreflect.MessageDescriptor) error {
	n, err := c.resolve(n)
	if err != nil {
		return err
	}
	if isNull(n) {
		buf.WriteString("null")
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return c.errorf(n, "%s: want a mapping of fields, got %s", md.FullName(), kindName(n))
	}
	fields := md.Fields()
	seen := make(map[protoreflect.FieldNumber]string)
	oneofs := make(map[protoreflect.FullName]string)
	buf.WriteByte('{')
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			return c.errorf(kn, "%s: field names must be plain strings", md.FullName())
		}
		key := kn.Value
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			msg := fmt.Sprintf("unknown field %q in %s", key, md.FullName())
			if s := suggest(fields, key); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return c.errorf(kn, "%s", msg)
		}
		if prev, dup := seen[fd.Number()]; dup {
			return c.errorf(kn, "field %q repeats %q in %s", key, prev, md.FullName())
		}
		seen[fd.Number()] = key
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if prev, set := oneofs[od.FullName()]; set {
				return c.errorf(kn, "fields %q and %q of %s are alternatives (oneof %s): give one", prev, key, md.FullName(), od.Name())
			}
			oneofs[od.FullName()] = key
		}
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		writeJSONString(buf, fd.JSONName())
		buf.WriteByte(':')
		if err := c.field(buf, vn, fd); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

// field writes the value n of field fd: a list, a map or a single value.
func (c *yamlToJSON) field(buf *bytes.Buffer, n *yaml.Node, fd protoreflect.FieldDescriptor) error {
	n, err := c.resolve(n)
	if err != nil {
		return err
	}
	switch {
	case isNull(n):
		buf.WriteString("null")
		return nil
	case fd.IsList():
		if n.Kind != yaml.SequenceNode {
			return c.errorf(n, "field %s: want a list, got %s", fd.JSONName(), kindName(n))
		}
		buf.WriteByte('[')
		for i, e := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := c.single(buf, e, fd); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	case fd.IsMap():
		if n.Kind != yaml.MappingNode {
			return c.errorf(n, "field %s: want a mapping, got %s", fd.JSONName(), kindName(n))
		}
		buf.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, err := c.resolve(n.Content[i])
			if err != nil {
				return err
			}
			if kn.Kind != yaml.ScalarNode {
				return c.errorf(kn, "field %s: map keys must be scalars", fd.JSONName())
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, kn.Value) // protojson map keys are strings
			buf.WriteByte(':')
			if err := c.single(buf, n.Content[i+1], fd.MapValue()); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
		return nil
	}
	return c.single(buf, n, fd)
}

// single writes one value of field fd's type.
func (c *yamlToJSON) single(buf *bytes.Buffer, n *yaml.Node, fd protoreflect.FieldDescriptor) error {
	n, err := c.resolve(n)
	if err != nil {
		return err
	}
	if isNull(n) {
		buf.WriteString("null")
		return nil
	}
	name := fd.JSONName()
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		md := fd.Message()
		switch md.FullName() {
		case "google.protobuf.Timestamp":
			if _, err := time.Parse(time.RFC3339Nano, n.Value); n.Kind != yaml.ScalarNode || err != nil {
				return c.errorf(n, "field %s: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %s", name, kindName(n))
			}
		case "google.protobuf.Duration":
			if _, err := strconv.ParseFloat(strings.TrimSuffix(n.Value, "s"), 64); n.Kind != yaml.ScalarNode || !strings.HasSuffix(n.Value, "s") || err != nil {
				return c.errorf(n, "field %s: want seconds such as 1.5s, got %s", name, kindName(n))
			}
		case "google.protobuf.FieldMask":
			// Its JSON form is a string of comma-separated paths.
		default:
			if md.FullName().Parent() == "google.protobuf" {
				return c.errorf(n, "field %s: %s is not supported in policy files", name, md.FullName())
			}
			return c.message(buf, n, md)
		}
	}
	if n.Kind != yaml.ScalarNode {
		return c.errorf(n, "field %s: want a single value, got %s", name, kindName(n))
	}
	v := n.Value
	switch fd.Kind() {
	case protoreflect.BoolKind:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			return c.errorf(n, "field %s: want true or false, got %q", name, v)
		}
		buf.WriteString(strconv.FormatBool(b))
	case protoreflect.EnumKind:
		ed := fd.Enum()
		if ed.Values().ByName(protoreflect.Name(v)) != nil {
			writeJSONString(buf, v)
		} else if full := enumPrefix(ed) + v; enumPrefix(ed) != "" && ed.Values().ByName(protoreflect.Name(full)) != nil {
			writeJSONString(buf, full)
		} else {
			return c.errorf(n, "field %s: unknown %s %q, want one of %s", name, ed.FullName(), v, strings.Join(enumNames(ed), ", "))
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return c.integer(buf, n, name, 32, true)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return c.integer(buf, n, name, 64, true)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return c.integer(buf, n, name, 32, false)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return c.integer(buf, n, name, 64, false)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		var f float64
		if n.Decode(&f) != nil {
			return c.errorf(n, "field %s: want a number, got %q", name, v)
		}
		switch {
		case math.IsNaN(f):
			buf.WriteString(`"NaN"`)
		case math.IsInf(f, 1):
			buf.WriteString(`"Infinity"`)
		case math.IsInf(f, -1):
			buf.WriteString(`"-Infinity"`)
		default:
			buf.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		}
	default: // strings, bytes (base64) and the string-shaped well-known types
		writeJSONString(buf, v)
	}
	return nil
}

// integer writes an integer field's value, checked against its type.
func (c *yamlToJSON) integer(buf *bytes.Buffer, n *yaml.Node, name string, bits int, signed bool) error {
	typ := fmt.Sprintf("uint%d", bits)
	if signed {
		typ = fmt.Sprintf("int%d", bits)
	}
	var err error
	if signed {
		var v int64
		if v, err = strconv.ParseInt(n.Value, 10, bits); err == nil {
			buf.WriteString(strconv.FormatInt(v, 10))
		}
	} else {
		var v uint64
		if v, err = strconv.ParseUint(n.Value, 10, bits); err == nil {
			buf.WriteString(strconv.FormatUint(v, 10))
		}
	}
	if err != nil {
		return c.errorf(n, "field %s: want a decimal %s, got %q", name, typ, n.Value)
	}
	return nil
}

// suggest finds the field a mistyped key probably meant: same letters,
// ignoring case and underscores.
func suggest(fields protoreflect.FieldDescriptors, key string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	for i := range fields.Len() {
		if fd := fields.Get(i); norm(fd.JSONName()) == norm(key) {
			return fd.JSONName()
		}
	}
	return ""
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "nothing"
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}
