package timeline

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
)

var (
	update     = flag.Bool("update", false, "rewrite testdata/*.csv from the current output")
	examplePNG = flag.String("png", "", "also write the handover plot to this PNG file, to look at")
)

const handoverTitle = "synthetic handover: non-3GPP cut at 5 s, restored at 7 s"

func TestWriteCSV(t *testing.T) {
	tl, _ := runHandover(t)
	var got bytes.Buffer
	if err := tl.WriteCSV(&got); err != nil {
		t.Fatalf("WriteCSV: %v", err)
	}
	golden := filepath.Join("testdata", "handover.csv")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (go test -update writes it): %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("WriteCSV differs from %s (go test -update rewrites it):\n%s", golden, firstDiff(got.String(), string(want)))
	}
}

// firstDiff returns the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d: got  %s\n        want %s", i+1, gl, wl)
		}
	}
	return ""
}

func TestWriteCSVMarksAndShortSeries(t *testing.T) {
	tl := grid(1000, 0)
	tl.Series = append(tl.Series, Series{Name: "short, odd \"name\"", Bytes: []uint64{7}})
	tl.Marks = []Mark{{"before", at(-1)}, {"a", at(0.5)}, {"b", at(0.7)}, {"after", at(5)}}
	var got bytes.Buffer
	if err := tl.WriteCSV(&got); err != nil {
		t.Fatal(err)
	}
	want := `interval,end_s,s bytes,"short, odd ""name"" bytes",s Mbit/s,"short, odd ""name"" Mbit/s",marks
0,0.100,1000,7,0.080,0.001,a; b
1,0.200,0,0,0.000,0.000,
`
	if got.String() != want {
		t.Errorf("WriteCSV =\n%s\nwant\n%s", got.String(), want)
	}
}

func TestWriteSVG(t *testing.T) {
	tl, _ := runHandover(t)
	var buf bytes.Buffer
	if err := tl.WriteSVG(&buf, handoverTitle); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	text := svgText(t, buf.Bytes())
	for _, want := range []string{handoverTitle, "time (s)", "Mbit/s", "3GPP", "non-3GPP", "app up", "app down", "non-3GPP cut", "restored"} {
		if !strings.Contains(text, want) {
			t.Errorf("SVG text lacks %q; it has %q", want, text)
		}
	}
}

// svgText checks that b is well-formed XML with an svg root and returns
// its character data.
func svgText(t *testing.T, b []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var sb strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			sb.Write(tok)
			sb.WriteByte('\n')
		}
	}
	if root != "svg" {
		t.Fatalf("SVG root element is %q, want svg", root)
	}
	return sb.String()
}

func TestWritePNG(t *testing.T) {
	tl, _ := runHandover(t)
	var buf bytes.Buffer
	if err := tl.WritePNG(&buf, handoverTitle); err != nil {
		t.Fatalf("WritePNG: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if got, want := img.Bounds().Size(), (image.Point{X: 960, Y: 480}); got != want {
		t.Errorf("PNG is %v, want %v", got, want)
	}
	// Not blank: the lines bring colours that are not grey.
	colours := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl {
				colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 0}] = true
			}
		}
	}
	if len(colours) < 4 {
		t.Errorf("PNG has %d non-grey colours, want at least the 4 series'", len(colours))
	}
	if *examplePNG != "" {
		if err := os.WriteFile(*examplePNG, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWriteEmpty: a Timeline with nothing sampled yet still draws axes
// and writes a header.
func TestWriteEmpty(t *testing.T) {
	tl := Timeline{Interval: time.Second, Start: t0, Series: []Series{{Name: "3GPP"}}, Marks: []Mark{{"early", t0.Add(-time.Second)}, {"now", t0}}}
	var svg, img, csv bytes.Buffer
	if err := tl.WriteSVG(&svg, "empty"); err != nil {
		t.Errorf("WriteSVG: %v", err)
	}
	svgText(t, svg.Bytes())
	if err := tl.WritePNG(&img, "empty"); err != nil {
		t.Errorf("WritePNG: %v", err)
	}
	if _, err := png.Decode(&img); err != nil {
		t.Errorf("PNG does not decode: %v", err)
	}
	if err := tl.WriteCSV(&csv); err != nil {
		t.Errorf("WriteCSV: %v", err)
	}
	if got, want := csv.String(), "interval,end_s,3GPP bytes,3GPP Mbit/s,marks\n"; got != want {
		t.Errorf("WriteCSV = %q, want %q", got, want)
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	tl := grid(1, 2, 3)
	for name, err := range map[string]error{
		"SVG": tl.WriteSVG(errWriter{}, "x"),
		"PNG": tl.WritePNG(errWriter{}, "x"),
		"CSV": tl.WriteCSV(errWriter{}),
	} {
		if err == nil {
			t.Errorf("Write%s to a failing writer = nil, want an error", name)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	labels := func(ts []plot.Tick) []string {
		var out []string
		for _, tk := range ts {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	tests := []struct {
		lo, hi, most float64
		want         []string
	}{
		{0, 10, 12, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
		{0, 120, 12, []string{"0", "10", "20", "30", "40", "50", "60", "70", "80", "90", "100", "110", "120"}},
		{0, 0.35, 12, []string{"0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30", "0.35"}},
		{0, 108, 6, []string{"0", "20", "40", "60", "80", "100"}},
		{2, 2, 6, []string{"2"}},
		{0, math.NaN(), 6, []string{"0"}},
	}
	for _, tt := range tests {
		if got := labels(niceTicks(tt.lo, tt.hi, tt.most)); !slices.Equal(got, tt.want) {
			t.Errorf("niceTicks(%v, %v, %v) labels = %v, want %v", tt.lo, tt.hi, tt.most, got, tt.want)
		}
	}
}

func TestWriteFiles(t *testing.T) {
	tl, _ := runHandover(t)
	dir := t.TempDir()
	names, err := tl.WriteFiles(filepath.Join(dir, "handover.svg"), handoverTitle)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"handover.svg", "handover.png", "handover.csv"}
	if len(names) != len(want) {
		t.Fatalf("WriteFiles wrote %v, want %v", names, want)
	}
	var csv bytes.Buffer
	if err := tl.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	for i, name := range names {
		if filepath.Base(name) != want[i] {
			t.Errorf("file %d is %s, want %s", i, name, want[i])
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
		if want[i] == "handover.csv" && !bytes.Equal(b, csv.Bytes()) {
			t.Errorf("%s differs from WriteCSV's output", name)
		}
	}
	if _, err := tl.WriteFiles(filepath.Join(dir, "missing", "x.svg"), ""); err == nil {
		t.Error("WriteFiles into a missing directory: no error")
	}
}
