package cpu

import (
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/internal/matcheck"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

func TestMatMulModes(t *testing.T) {
	d, _ := Open()
	for _, mode := range d.Modes() {
		for _, n := range []int{1, 7, 64, 257} {
			mem, err := d.NewMemory(mode, 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			bytes := uint64(n * n * 4)
			a, b, c := device.Span{Off: 0, Len: bytes}, device.Span{Off: bytes, Len: bytes}, device.Span{Off: 2 * bytes, Len: bytes}
			if err := mem.Grow(3 * bytes); err != nil {
				t.Fatal(err)
			}
			f := unsafe.Slice((*float32)(unsafe.Pointer(&mem.Bytes()[0])), 3*n*n)
			A, B, C := f[:n*n], f[n*n:2*n*n], f[2*n*n:]
			matcheck.Fill(1, A)
			matcheck.Fill(2, B)
			matcheck.Poison(C)
			rep, err := mem.MatMul(a, b, c, n, n, n)
			if err != nil {
				t.Fatal(err)
			}
			if e := matcheck.MaxRelErr(A, B, C, n, n, n, 1<<30); !(e < 1e-5) {
				t.Errorf("%s n=%d: max relative error %g", mode, n, e)
			}
			inPlace := rep.Addrs[2] == uintptr(unsafe.Pointer(&C[0]))
			if inPlace != (mode == device.ZeroCopy) {
				t.Errorf("%s: kernel wrote C in place = %v", mode, inPlace)
			}
			st := mem.Stats()
			if mode == device.Copy && (st.StagingBytes != 3*bytes || st.CopiedBytes != 3*bytes) {
				t.Errorf("copy stats %+v, want staging and copied %d", st, 3*bytes)
			}
			if mode == device.ZeroCopy && (st.StagingBytes != 0 || st.CopiedBytes != 0) {
				t.Errorf("zerocopy stats %+v, want no staging or copies", st)
			}
			if err := mem.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestMatMulRejects(t *testing.T) {
	d, _ := Open()
	mem, _ := d.NewMemory(device.ZeroCopy, 1<<20)
	defer mem.Close()
	mem.Grow(4096)
	s := func(off, n uint64) device.Span { return device.Span{Off: off, Len: n} }
	for _, tc := range []struct {
		name    string
		a, b, c device.Span
		m, n, k int
		want    string
	}{
		{"zero dim", s(0, 0), s(0, 0), s(64, 0), 0, 1, 1, "must be positive"},
		{"A size", s(0, 60), s(64, 64), s(128, 64), 4, 4, 4, "A span is 60 bytes"},
		{"out of range", s(0, 64), s(64, 64), s(4090, 64), 4, 4, 4, "outside memory"},
		{"overlap", s(0, 64), s(64, 64), s(32, 64), 4, 4, 4, "overlaps input 0"},
		{"unaligned", s(2, 64), s(68, 64), s(200, 64), 4, 4, 4, "not float32-aligned"},
	} {
		_, err := mem.MatMul(tc.a, tc.b, tc.c, tc.m, tc.n, tc.k)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := d.NewMemory(device.Managed, 1<<20); !errors.Is(err, device.ErrUnsupportedMode) {
		t.Errorf("managed mode on cpu: %v", err)
	}
	if err := mem.Grow(2 << 20); err == nil {
		t.Error("grow past reservation accepted")
	}
}

func TestMemoryBandwidth(t *testing.T) {
	d, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	rates, err := d.MemoryBandwidth()
	if err != nil {
		t.Fatal(err)
	}
	med, best := rates["weights"], rates["weights_best"]
	if med < 1e8 || med > 1e13 || best < med || rates["host_read"] != med {
		t.Fatalf("implausible rates %v: want weights (median) in [1e8, 1e13], weights_best ≥ it, host_read = it", rates)
	}
}
