package cputime

import (
	"testing"
	"time"
)

// TestProcessCountsWork spins for 50 ms of wall time: the process's CPU time
// must grow, by at most what the spinning goroutine could use plus the rest
// of the process's (generously: the test runtime's own threads).
func TestProcessCountsWork(t *testing.T) {
	before := Process()
	if before <= 0 {
		t.Skip("no CPU time reported on this system")
	}
	var sink uint64
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		for i := range 1000 {
			sink += uint64(i)
		}
	}
	if d := Process() - before; d <= 0 {
		t.Errorf("CPU time grew by %v after 50 ms of spinning (sink %d)", d, sink)
	}
}
