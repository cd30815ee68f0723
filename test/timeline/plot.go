package timeline

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// The plot's size: 960×480 pixels in PNG at vgimg's 96 dpi.
const (
	plotWidth  = 10 * vg.Inch
	plotHeight = 5 * vg.Inch
)

// headroom is how far above the highest rate the Y axis goes, so the mark
// labels at the top sit above the lines, not on them.
const headroom = 1.2

// WriteSVG draws t as an SVG plot titled title: each series' rate in Mbit/s
// over the time in seconds since Start, one step per interval, with a
// legend on the right, and each mark as a dashed vertical line with its label.
func (t Timeline) WriteSVG(w io.Writer, title string) error {
	c := vgsvg.New(plotWidth, plotHeight)
	if err := t.draw(c, title); err != nil {
		return err
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write SVG: %w", err)
	}
	return nil
}

// WritePNG draws t as WriteSVG does, as a PNG image.
func (t Timeline) WritePNG(w io.Writer, title string) error {
	c := vgimg.PngCanvas{Canvas: vgimg.New(plotWidth, plotHeight)}
	if err := t.draw(c, title); err != nil {
		return err
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("write PNG: %w", err)
	}
	return nil
}

func (t Timeline) draw(c vg.CanvasSizer, title string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "Mbit/s"
	p.Add(plotter.NewGrid())
	// The legend goes right of the plot, not in it as gonum/plot would put
	// it, where it would hide the lines or a mark's label.
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.TextStyle.Font.Size = vg.Points(10)

	end := t.End().Sub(t.Start).Seconds()
	var peak float64
	for si, s := range t.Series {
		if t.Len() == 0 {
			break
		}
		// PreStep draws each point's rate back to the previous point, so
		// the first rate is given twice: at 0 and at the first sample.
		xys := make(plotter.XYs, 0, t.Len()+1)
		xys = append(xys, plotter.XY{X: 0, Y: t.Mbps(si, 0)})
		for i, e := range t.Ends {
			r := t.Mbps(si, i)
			peak = max(peak, r)
			xys = append(xys, plotter.XY{X: e.Seconds(), Y: r})
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("plot %s: %w", s.Name, err)
		}
		l.StepStyle = plotter.PreStep
		l.LineStyle.Width = vg.Points(1.5)
		l.LineStyle.Color = plotutil.Color(si)
		// The accesses solid, the rest (application rates, which overlay
		// their sum) dashed, so that coinciding lines stay visible.
		if si >= 2 {
			l.LineStyle.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
		}
		p.Add(l)
		legend.Add(s.Name, l)
	}

	m := marks{
		line: draw.LineStyle{Color: color.Gray{Y: 0x60}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}},
		text: text.Style{
			Color:   color.Black,
			Font:    font.From(plot.DefaultFont, vg.Points(10)),
			XAlign:  draw.XLeft,
			YAlign:  draw.YTop,
			Handler: plot.DefaultTextHandler,
		},
	}
	for _, mk := range t.Marks {
		x := mk.At.Sub(t.Start).Seconds()
		if x < 0 {
			continue // before the timeline: nowhere to draw it
		}
		end = max(end, x)
		m.xs = append(m.xs, x)
		m.labels = append(m.labels, mk.Label)
	}
	p.Add(m)

	p.X.Min, p.X.Max = 0, max(end, t.Interval.Seconds())
	p.X.Tick.Marker = ticks(12)
	p.Y.Tick.Marker = ticks(6)
	p.Y.Min, p.Y.Max = 0, max(peak, 1)*headroom
	dc := draw.Crop(draw.New(c), margin, -margin, margin, -margin)
	var legendWidth vg.Length
	if len(t.Series) > 0 {
		legendWidth = legend.Rectangle(dc).Size().X + margin
	}
	pc := draw.Crop(dc, 0, -legendWidth, 0, 0)
	p.Draw(pc)
	if legendWidth > 0 {
		lc := dc
		lc.Min.X = pc.Max.X + margin
		lc.Max.Y = p.DataCanvas(pc).Max.Y
		legend.Draw(lc)
	}
	return nil
}

// margin keeps the title, the legend and the last tick label off the
// image's edges, which gonum/plot draws right up to.
const margin = 8 // points

// ticks labels an axis every 1, 2 or 5 times a power of ten, with at most
// most labels and a minor tick between them: gonum/plot's default aims at
// three labels, too coarse to read a stall's length off the time axis.
func ticks(most float64) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick { return niceTicks(lo, hi, most) })
}

func niceTicks(lo, hi, most float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	step := math.Pow(10, math.Floor(math.Log10((hi-lo)/most)))
	for _, f := range []float64{1, 2, 5, 10} {
		if (hi-lo)/(step*f) <= most {
			step *= f
			break
		}
	}
	decimals := max(0, -int(math.Floor(math.Log10(step))))
	var ts []plot.Tick
	for k := math.Ceil(lo / step * 2); k/2*step <= hi+step*1e-9; k++ {
		v := k / 2 * step
		tk := plot.Tick{Value: v} // a minor tick halfway
		if math.Mod(k, 2) == 0 {
			tk.Label = strconv.FormatFloat(v, 'f', decimals, 64)
		}
		ts = append(ts, tk)
	}
	return ts
}

// marks draws vertical event lines with their labels. gonum/plot has no
// such plotter: plotter.Line would need the Y range, known only once the
// plot is drawn, and labels that avoid each other need the canvas.
type marks struct {
	xs     []float64
	labels []string
	line   draw.LineStyle
	text   text.Style
}

// Plot implements plot.Plotter. Labels go at the top, right of their line
// (left of it near the right edge), each on the highest row where it does
// not overlap an earlier one, on a white box so grid and data lines do not
// cross the text.
func (m marks) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	order := make([]int, len(m.xs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case m.xs[a] < m.xs[b]:
			return -1
		case m.xs[a] > m.xs[b]:
			return 1
		}
		return 0
	})
	pad := vg.Points(3)
	rowHeight := m.text.Height("Ag") + 2*pad
	var rows []vg.Length // the right edge of the last label in each row
	for _, i := range order {
		x := trX(m.xs[i])
		if !c.ContainsX(x) {
			continue
		}
		c.StrokeLine2(m.line, x, c.Min.Y, x, c.Max.Y)
		label := m.labels[i]
		w := m.text.Width(label)
		left := x + pad
		if left+w+pad > c.Max.X {
			left = x - pad - w
		}
		row := 0
		for row < len(rows) && rows[row]+pad > left {
			row++
		}
		if row == len(rows) {
			rows = append(rows, c.Min.X)
		}
		rows[row] = left + w
		top := c.Max.Y - pad - vg.Length(row)*rowHeight
		c.FillPolygon(color.White, []vg.Point{
			{X: left - pad/2, Y: top + pad/2},
			{X: left + w + pad/2, Y: top + pad/2},
			{X: left + w + pad/2, Y: top - rowHeight + 1.5*pad},
			{X: left - pad/2, Y: top - rowHeight + 1.5*pad},
		})
		c.FillText(m.text, vg.Point{X: left, Y: top}, label)
	}
}
