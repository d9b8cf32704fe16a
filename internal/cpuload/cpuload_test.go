package cpuload

import (
	"math"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	if b, ok := parseStat("cpu  100 5 50 1000 20 1 2 3 7 0\ncpu0 1 2 3\n"); !ok || b != 100+5+50+1+2+3 {
		t.Errorf("parseStat = %v, %v", b, ok)
	}
	for _, bad := range []string{"", "intr 1 2", "cpu 1 x 3 4 5"} {
		if _, ok := parseStat(bad); ok {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
	self := "1234 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 31 0 0 20 0"
	if v, ok := parseSelf(self); !ok || v != 281 {
		t.Errorf("parseSelf = %v, %v", v, ok)
	}
	if _, ok := parseSelf("1234 no parens"); ok {
		t.Error("parseSelf accepted a line without a name")
	}
}

func TestOthers(t *testing.T) {
	t0 := time.Unix(0, 0)
	a := Sample{at: t0, busy: 1000, self: 100, ok: true}
	b := Sample{at: t0.Add(2 * time.Second), busy: 1300, self: 250, ok: true}
	// 300 busy ticks in 200 ticks of wall time, 150 of them ours: others
	// kept 0.75 of a core busy.
	if got := Others(a, b); math.Abs(got-0.75) > 1e-12 {
		t.Errorf("Others = %v, want 0.75", got)
	}
	short := Sample{at: t0.Add(100 * time.Millisecond), busy: 1010, self: 105, ok: true}
	if got := Others(a, short); !math.IsNaN(got) {
		t.Errorf("a 0.1 s window: %v, want NaN", got)
	}
	if got := Others(Sample{}, b); !math.IsNaN(got) {
		t.Errorf("no sample: %v, want NaN", got)
	}
	// A real window: some value ≥ 0, or unknown off Linux.
	s := Now()
	time.Sleep(250 * time.Millisecond)
	if got := Others(s, Now()); got < 0 {
		t.Errorf("Others of a real window = %v", got)
	}
}
