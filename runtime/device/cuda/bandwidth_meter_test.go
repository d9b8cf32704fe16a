package cuda

import "testing"

// TestMemoryBandwidthUnits: experiments divide bytes by these rates, so they
// must be bytes per second, not the GB/s MeasureBandwidth reports.
func TestMemoryBandwidthUnits(t *testing.T) {
	d := gpu(t)
	rates, err := d.MemoryBandwidth()
	if err != nil {
		t.Fatal(err)
	}
	bw, err := d.MeasureBandwidth()
	if err != nil {
		t.Fatal(err)
	}
	// Any GPU reads its memory faster than 10 GB/s: a rate below 1e10 is in the wrong unit.
	if r := rates["weights"]; r < 1e10 || r/1e9 < bw.DeviceRead/2 || r/1e9 > bw.DeviceRead*2 {
		t.Fatalf("weights rate %g B/s, MeasureBandwidth %g GB/s", r, bw.DeviceRead)
	}
}
