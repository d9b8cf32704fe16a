package cpu

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestPlace: placing spans keeps every byte, in both modes and at both
// locations, and a span outside the memory in use is refused.
func TestPlace(t *testing.T) {
	d, _ := Open()
	for _, mode := range []device.Mode{device.ZeroCopy, device.Copy} {
		mem, err := d.NewMemory(mode, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.Grow(256 << 10); err != nil {
			t.Fatal(err)
		}
		b := mem.Bytes()
		copy(b[5000:], "before")
		want := make([]byte, 256<<10)
		copy(want[5000:], "before")
		p := mem.(device.Placer)
		spans := []device.Span{{Off: 100, Len: 9000}, {Off: 64 << 10, Len: 1}, {Off: 128 << 10, Len: 0}}
		for _, at := range []device.Location{device.OnDevice, device.OnHost} {
			if err := p.Place(spans, at); err != nil {
				t.Fatalf("%s: place on %s: %v", mode, at, err)
			}
		}
		if err := p.Wrote(spans); err != nil {
			t.Fatalf("%s: wrote: %v", mode, err)
		}
		if !bytes.Equal(b[:256<<10], want) {
			t.Errorf("%s: placing changed the bytes", mode)
		}
		for _, bad := range []device.Span{{Off: 256 << 10, Len: 1}, {Off: 1<<64 - 1, Len: 2}} {
			if err := p.Place([]device.Span{bad}, device.OnDevice); err == nil || !strings.Contains(err.Error(), "outside memory") {
				t.Errorf("%s: place %v: %v, want outside memory", mode, bad, err)
			}
			if err := p.Wrote([]device.Span{bad}); err == nil {
				t.Errorf("%s: wrote %v accepted", mode, bad)
			}
		}
		mem.Close()
	}
}
