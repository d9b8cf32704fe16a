package llm

import (
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestBuffers: the KV range is exactly the layout's caches, a page away
// from the header and token ids; the device-only buffers are page-aligned,
// disjoint from each other, from the state region and from the argmax
// indices the host reads.
func TestBuffers(t *testing.T) {
	e, _ := newTiny(t, device.ZeroCopy, Options{MaxSeq: 40, MaxBatch: 8})
	b := e.Buffers()
	st, l := e.State(), e.StateLayout()
	if b.KV.Off != st.Off+l.K[0] || b.KV.Off+b.KV.Len != st.Off+st.Len {
		t.Fatalf("KV %+v, want [state+%d, end of state %d)", b.KV, l.K[0], st.Off+st.Len)
	}
	if b.KV.Off%pageAlign != 0 || b.KV.Off < st.Off+l.Tokens+4*uint32(l.MaxSeq) {
		t.Fatalf("KV at %d is not page-aligned past the token ids", b.KV.Off)
	}
	last := l.V[len(l.V)-1]
	if b.KV.Off+b.KV.Len < st.Off+last+l.LayerBytes {
		t.Fatalf("KV %+v misses the last V cache", b.KV)
	}
	if len(b.Device) != 10 {
		t.Fatalf("%d device buffers, want 10 (x xb q k v att hb hb2 logits invFreq)", len(b.Device))
	}
	all := append([]Buf{st, e.s.next}, b.Device...)
	for i, x := range b.Device {
		if x.Len == 0 || x.Off%pageAlign != 0 {
			t.Errorf("device buffer %d %+v is empty or not page-aligned", i, x)
		}
		for j, y := range all {
			if j != i+2 && x.Span().Overlaps(y.Span()) {
				t.Errorf("device buffer %d %+v overlaps %+v", i, x, y)
			}
		}
	}
}
