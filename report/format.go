package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// Duration formats a time in seconds with a unit that keeps three
// significant digits readable: "812ns", "12.3µs", "4.56ms", "1.23s".
// NaN gives "NaN"; ±Inf gives "∞" or "-∞".
func Duration(seconds float64) string {
	if s, ok := nonFinite(seconds); ok {
		return s
	}
	a := math.Abs(seconds)
	switch {
	case a == 0:
		return "0s"
	case a < 1e-6:
		return sig3(seconds*1e9) + "ns"
	case a < 1e-3:
		return sig3(seconds*1e6) + "µs"
	case a < 1:
		return sig3(seconds*1e3) + "ms"
	}
	return sig3(seconds) + "s"
}

// Bytes formats a byte count with binary units: "512B", "1.50KiB",
// "16.0MiB", "2.00GiB". Negative values (e.g. an RSS delta that shrank)
// keep their sign.
func Bytes(n float64) string {
	if s, ok := nonFinite(n); ok {
		return s
	}
	a := math.Abs(n)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for a >= 1024 && i < len(units)-1 {
		a /= 1024
		n /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(n, 'f', -1, 64) + "B"
	}
	return sig3(n) + units[i]
}

// Value formats x in the given sample unit: durations for "s", bytes for
// "B" or "bytes", otherwise three significant digits and the unit.
func Value(x float64, unit string) string {
	switch unit {
	case "", "s":
		return Duration(x)
	case "ms":
		return Duration(x / 1e3)
	case "us", "µs":
		return Duration(x / 1e6)
	case "ns":
		return Duration(x / 1e9)
	case "B", "bytes":
		return Bytes(x)
	}
	if s, ok := nonFinite(x); ok {
		return s
	}
	return sig3(x) + " " + unit
}

// MedianCI formats a summary as "median [lo, hi]" in unit, e.g.
// "4.56ms [4.50ms, 4.61ms]". An unbounded interval (too few samples)
// prints as "[-∞, ∞]"; no samples prints "-".
func MedianCI(s stats.Summary, unit string) string {
	if s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%s [%s, %s]", Value(s.Median, unit), Value(s.CILo, unit), Value(s.CIHi, unit))
}

// MedianPM formats a summary as "median ±p%", p the larger distance from
// the median to a bound of its 95% CI in percent of the median, as
// benchstat prints it; "±∞" when the samples give no interval, "-" with no
// samples.
func MedianPM(s stats.Summary, unit string) string {
	if s.N == 0 {
		return "-"
	}
	if !s.HasCI() || s.Median == 0 {
		return Value(s.Median, unit) + " ±∞"
	}
	pm := math.Max(s.Median-s.CILo, s.CIHi-s.Median) / math.Abs(s.Median)
	return fmt.Sprintf("%s ±%.0f%%", Value(s.Median, unit), math.Ceil(pm*100))
}

// Percent formats a fraction as a signed percentage: 0.1234 → "+12.34%".
func Percent(frac float64) string {
	if s, ok := nonFinite(frac); ok {
		return s
	}
	return fmt.Sprintf("%+.2f%%", frac*100)
}

// sig3 formats x with three significant digits, without an exponent for the
// magnitudes Duration and Bytes produce (1 to 1024).
func sig3(x float64) string {
	a := math.Abs(x)
	var s string
	switch {
	case a >= 100:
		s = strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 1:
		s = strconv.FormatFloat(x, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(x, 'g', 3, 64)
	}
	if strings.HasSuffix(s, ".0") && a >= 1000 {
		s = strings.TrimSuffix(s, ".0")
	}
	return s
}

func nonFinite(x float64) (string, bool) {
	switch {
	case math.IsNaN(x):
		return "NaN", true
	case math.IsInf(x, 1):
		return "∞", true
	case math.IsInf(x, -1):
		return "-∞", true
	}
	return "", false
}

// Wrap breaks text into lines of at most width runes at spaces (a longer
// word gets a line of its own); each line ends in a newline.
func Wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		w := len([]rune(word))
		if n > 0 && n+1+w > width {
			b.WriteByte('\n')
			n = 0
		}
		if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += w
	}
	if n > 0 {
		b.WriteByte('\n')
	}
	return b.String()
}
