package experiments

import (
	"os"
	"strconv"
	"time"
)

// SlowdownEnv names a hidden, test-only knob: set to a fraction f (e.g.
// 0.10), every measured operation of every driver takes f longer, because
// Elapsed spins for f times the operation's time before returning it. It
// exists so the false-alarm study (scripts/aa-study.sh) can check that
// compare catches a real slowdown of known size. Off unless set; a run with
// it set says so on standard error and records it in its provenance.
const SlowdownEnv = "WASMGPU_TEST_SLOWDOWN"

// slowdown is SlowdownEnv's value, read once.
var slowdown = func() float64 {
	f, err := strconv.ParseFloat(os.Getenv(SlowdownEnv), 64)
	if err != nil || !(f > 0) || f > 10 {
		return 0
	}
	return f
}()

// Slowdown returns the injected slowdown fraction, 0 when off.
func Slowdown() float64 { return slowdown }

// Elapsed is time.Since(start) for a measured operation; with SlowdownEnv
// set it first spins for that fraction of the time (spinning, not
// sleeping: a sleep's granularity is coarser than a matmul call), so the
// operation and the time returned are both longer by the fraction.
func Elapsed(start time.Time) time.Duration {
	d := time.Since(start)
	if slowdown == 0 {
		return d
	}
	until := time.Now().Add(time.Duration(float64(d) * slowdown))
	for time.Now().Before(until) {
	}
	return time.Since(start)
}
