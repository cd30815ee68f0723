package pfcp

import (
	"sync"

	"github.com/wmnsk/go-pfcp/ie"
)

// go-pfcp asks, for every IE it parses, whether the IE type is grouped, by
// reading a map under a package-wide RWMutex. With parallel workers that
// lock was the hottest spot of the server (8 % of CPU in
// BenchmarkEstablish). useLockFreeGroupedTable installs the same answers as
// a table read without a lock. go-pfcp keeps this setting globally, so it
// is done once per process; the answers are go-pfcp's own, so nothing else
// changes.
var groupedTableOnce sync.Once

func useLockFreeGroupedTable() {
	groupedTableOnce.Do(func() {
		grouped := new([1 << 16]bool)
		for t := range grouped {
			grouped[t] = (&ie.IE{Type: uint16(t)}).IsGrouped()
		}
		ie.SetIsGroupedFun(func(t uint16) bool { return grouped[t] })
	})
}
