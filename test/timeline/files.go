package timeline

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// WriteFiles writes t as SVG, PNG and CSV next to path, whose extension is
// replaced, under the plot title title, and returns the files' names.
func (t Timeline) WriteFiles(path, title string) ([]string, error) {
	base := strings.TrimSuffix(path, filepath.Ext(path))
	formats := []struct {
		ext   string
		write func(io.Writer) error
	}{
		{".svg", func(w io.Writer) error { return t.WriteSVG(w, title) }},
		{".png", func(w io.Writer) error { return t.WritePNG(w, title) }},
		{".csv", t.WriteCSV},
	}
	var names []string
	for _, f := range formats {
		name := base + f.ext
		if err := writeFile(name, f.write); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}

func writeFile(name string, write func(io.Writer) error) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	return errors.Join(write(f), f.Close())
}
