// Package cpuload measures how much CPU other processes took while this
// one measured something: the interference of a shared machine's other
// tenants, which only ever slows a measurement down. A timing taken while
// another process kept a core busy is not a timing of the code alone, and
// compare does not judge it (see report.Compare).
//
// It reads Linux's /proc/stat (every CPU's busy time, guests' steal
// included) and /proc/self/stat (this process's CPU time), both in clock
// ticks (USER_HZ, 100 a second): a window much shorter than a few ticks
// cannot be measured, and reads as unknown. Elsewhere nothing is known.
package cpuload

import (
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ticksPerSecond is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux architecture Go supports.
const ticksPerSecond = 100

// minTicks is the shortest window Others judges: below it one tick of
// rounding is too large a share.
const minTicks = 20

// Sample is the machine's and this process's CPU time at one moment.
type Sample struct {
	at         time.Time
	busy, self float64 // ticks
	ok         bool
}

// Now samples the CPU times.
func Now() Sample {
	s := Sample{at: time.Now()}
	busy, ok1 := readProc("/proc/stat", parseStat)
	self, ok2 := readProc("/proc/self/stat", parseSelf)
	s.busy, s.self, s.ok = busy, self, ok1 && ok2
	return s
}

// Others returns how many cores' worth of CPU other processes used between
// a and b on average (0.5: half a core, all the window), or NaN when it
// cannot be known (no /proc, or a window under 0.2 s).
func Others(a, b Sample) float64 {
	if !a.ok || !b.ok {
		return math.NaN()
	}
	wall := b.at.Sub(a.at).Seconds() * ticksPerSecond
	if wall < minTicks {
		return math.NaN()
	}
	return math.Max(0, (b.busy-a.busy)-(b.self-a.self)) / wall
}

// readProc parses a /proc file with parse; false off Linux or on an error.
func readProc(path string, parse func(string) (float64, bool)) (float64, bool) {
	if runtime.GOOS != "linux" {
		return 0, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	return parse(string(b))
}

// parseStat returns the busy time of all CPUs in ticks: the "cpu" line of
// /proc/stat less idle and iowait.
func parseStat(text string) (float64, bool) {
	line, _, _ := strings.Cut(text, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, false
	}
	var busy float64
	for i, s := range f[1:] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, false
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest and guest_nice are inside user and nice already
			break
		}
		busy += v
	}
	return busy, true
}

// parseSelf returns this process's user and system time in ticks
// (/proc/self/stat fields 14 and 15).
func parseSelf(text string) (float64, bool) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(text, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(text[i+1:])
	// After the name: state is field 3, so utime (14) is f[11], stime f[12].
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	s, err2 := strconv.ParseFloat(f[12], 64)
	return u + s, err1 == nil && err2 == nil
}
