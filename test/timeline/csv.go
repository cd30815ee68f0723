package timeline

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteCSV writes t as a table with a header row and one row per interval:
//
//	interval,end_s,<name> bytes...,<name> Mbit/s...,marks
//
// end_s is the interval's end in seconds since Start (three decimals), the
// rates have three decimals, and marks holds the labels of the marks that
// fall in the interval ("; " between them). Marks before Start or after
// the last interval have no row to go in and are left out.
func (t Timeline) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"interval", "end_s"}
	for _, s := range t.Series {
		header = append(header, s.Name+" bytes")
	}
	for _, s := range t.Series {
		header = append(header, s.Name+" Mbit/s")
	}
	header = append(header, "marks")
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}

	labels := make([][]string, t.Len())
	for _, m := range t.Marks {
		if m.At.Before(t.Start) {
			continue // before the first interval, as the plot leaves it out
		}
		if i := t.slot(m.At); i < t.Len() {
			labels[i] = append(labels[i], m.Label)
		}
	}
	row := make([]string, 0, len(header))
	for i, e := range t.Ends {
		row = append(row[:0], strconv.Itoa(i), strconv.FormatFloat(e.Seconds(), 'f', 3, 64))
		for si := range t.Series {
			var b uint64
			if bs := t.bytes(si); i < len(bs) {
				b = bs[i]
			}
			row = append(row, strconv.FormatUint(b, 10))
		}
		for si := range t.Series {
			row = append(row, strconv.FormatFloat(t.Mbps(si, i), 'f', 3, 64))
		}
		row = append(row, strings.Join(labels[i], "; "))
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
