package llmhost

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// placeDevice is the cpu device whose memories record what was placed.
type placeDevice struct {
	*cpu.Device
	mems []*placeMemory
}

func (d *placeDevice) NewMemory(mode device.Mode, max uint64) (device.Memory, error) {
	m, err := d.Device.NewMemory(mode, max)
	if err != nil {
		return nil, err
	}
	pm := &placeMemory{Memory: m.(*cpu.Memory)}
	d.mems = append(d.mems, pm)
	return pm, nil
}

// placed is one Place call.
type placed struct {
	spans []device.Span
	at    device.Location
}

// placeMemory is a cpu memory that records Place and Wrote before doing them.
type placeMemory struct {
	*cpu.Memory
	placed []placed
	wrote  []device.Span
}

func (m *placeMemory) Place(spans []device.Span, at device.Location) error {
	m.placed = append(m.placed, placed{slices.Clone(spans), at})
	return m.Memory.Place(spans, at)
}

func (m *placeMemory) Wrote(spans []device.Span) error {
	m.wrote = append(m.wrote, spans...)
	return m.Memory.Wrote(spans)
}

// TestPlacement: a new session places its device-only buffers on the device
// and its KV cache on the device or, waiting for a restore, on the host —
// exactly the engine's buffers, the KV cache inside the state region and
// nothing of its header or token ids — and placing changes no token.
func TestPlacement(t *testing.T) {
	f := newFixture(t)
	d := &placeDevice{Device: f.d}
	prompt := []int32{1, 17, 300, 42, 9, 255, 77, 3, 128, 64, 11}
	want := run(t, f.ctx, f.sessions(t)["native"], prompt, 6)
	for _, p := range []Placement{PlaceNone, PlaceForPrefill, PlaceForRestore} {
		for _, how := range []string{"native", "wasm"} {
			o := f.opts
			o.Place = p
			var s Session
			var err error
			if how == "native" {
				s, err = NewNative(d, device.ZeroCopy, f.cfg, f.w, o)
			} else {
				s, err = NewGuest(f.ctx, f.rt, d, device.ZeroCopy, f.cfg, f.w, o)
			}
			if err != nil {
				t.Fatal(err)
			}
			m := d.mems[len(d.mems)-1]
			region, _ := s.State(f.ctx)
			stateOff := uint64(uintptrOf(region) - uintptrOf(m.Bytes()))
			state := device.Span{Off: stateOff, Len: uint64(len(region))}
			if p == PlaceNone {
				if len(m.placed) != 0 {
					t.Errorf("%s %s: placed %v", how, p, m.placed)
				}
			} else {
				kvAt := map[Placement]device.Location{PlaceForPrefill: device.OnDevice, PlaceForRestore: device.OnHost}[p]
				if len(m.placed) != 2 || m.placed[0].at != device.OnDevice || len(m.placed[0].spans) != 10 || len(m.placed[1].spans) != 1 || m.placed[1].at != kvAt {
					t.Fatalf("%s %s: placed %+v, want 10 buffers on the device, then the KV cache on the %s", how, p, m.placed, kvAt)
				}
				kv := m.placed[1].spans[0]
				if kv.End() != state.End() || kv.Off < state.Off+uint64(llm.StateHeaderSize)+4*uint64(f.opts.MaxSeq) {
					t.Errorf("%s %s: KV cache %+v is not the end of the state region %+v past its token ids", how, p, kv, state)
				}
				for _, b := range m.placed[0].spans {
					if b.Overlaps(state) {
						t.Errorf("%s %s: device buffer %+v overlaps the state region %+v", how, p, b, state)
					}
				}
			}
			if got := run(t, f.ctx, s, prompt, 6); !slices.Equal(got, want) {
				t.Errorf("%s %s: tokens %v, want %v", how, p, got, want)
			}
			s.Close(f.ctx)
		}
	}
}

// TestLanded: Landed reports a view of the state region as the span of the
// session's memory it is, and refuses bytes that are not the session's.
func TestLanded(t *testing.T) {
	f := newFixture(t)
	d := &placeDevice{Device: f.d}
	for _, how := range []string{"native", "wasm"} {
		var s Session
		var err error
		if how == "native" {
			s, err = NewNative(d, device.ZeroCopy, f.cfg, f.w, f.opts)
		} else {
			s, err = NewGuest(f.ctx, f.rt, d, device.ZeroCopy, f.cfg, f.w, f.opts)
		}
		if err != nil {
			t.Fatal(err)
		}
		m := d.mems[len(d.mems)-1]
		region, _ := s.State(f.ctx)
		off := uint64(uintptrOf(region) - uintptrOf(m.Bytes()))
		if err := Landed(s, region[100:300]); err != nil {
			t.Fatal(err)
		}
		if err := Landed(s, nil); err != nil {
			t.Fatal(err)
		}
		if want := []device.Span{{Off: off + 100, Len: 200}}; !slices.Equal(m.wrote, want) {
			t.Errorf("%s: wrote %v, want %v", how, m.wrote, want)
		}
		if err := Landed(s, make([]byte, 10)); err == nil {
			t.Errorf("%s: bytes outside the session's memory were accepted", how)
		}
		s.Close(f.ctx)
	}
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
