package safetensors

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// TestRoundTripExhaustive widens every 16-bit pattern to float32 and
// narrows it back: each comes back as itself, but NaNs, which come back as a
// NaN (bf16: torch's canonical 0x7fc0; f16: a NaN of the same sign).
func TestRoundTripExhaustive(t *testing.T) {
	for _, c := range []struct {
		name   string
		widen  func(uint16) float32
		narrow func(float32) uint16
		nan    func(h, got uint16) bool
	}{
		{"BF16", BF16ToF32, F32ToBF16, func(_, got uint16) bool { return got == 0x7fc0 }},
		{"F16", F16ToF32, F32ToF16, func(h, got uint16) bool { return got&0x7c00 == 0x7c00 && got&0x3ff != 0 && got&0x8000 == h&0x8000 }},
	} {
		for i := range 1 << 16 {
			h := uint16(i)
			f := c.widen(h)
			got := c.narrow(f)
			if f != f {
				if !c.nan(h, got) {
					t.Fatalf("%s NaN %#04x -> %#04x", c.name, h, got)
				}
				continue
			}
			if got != h {
				t.Fatalf("%s %#04x -> %v -> %#04x", c.name, h, f, got)
			}
		}
	}
}

func TestF32ToBF16(t *testing.T) {
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"tie to even down", 0x3f808000, 0x3f80},
		{"tie to even up", 0x3f818000, 0x3f82},
		{"above tie", 0x3f808001, 0x3f81},
		{"below tie", 0x3f807fff, 0x3f80},
		{"max float32 overflows", 0x7f7fffff, 0x7f80},
		{"+inf", 0x7f800000, 0x7f80},
		{"-inf", 0xff800000, 0xff80},
		{"-0", 0x80000000, 0x8000},
		{"smallest subnormal rounds to 0", 0x00000001, 0x0000},
		{"subnormal kept", 0x00010000, 0x0001},
		{"quiet NaN", 0x7fc00000, 0x7fc0},
		{"signaling NaN low payload", 0x7f800001, 0x7fc0},
		{"negative NaN", 0xffc00000, 0x7fc0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := F32ToBF16(math.Float32frombits(tt.in)); got != tt.want {
				t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", tt.in, got, tt.want)
			}
		})
	}
}

func TestF16ToF32Values(t *testing.T) {
	tests := []struct {
		in   uint16
		want float64
	}{
		{0x3c00, 1},
		{0xc000, -2},
		{0x7bff, 65504},
		{0x0400, math.Ldexp(1, -14)},    // smallest normal
		{0x0001, math.Ldexp(1, -24)},    // smallest subnormal
		{0x03ff, math.Ldexp(1023, -24)}, // largest subnormal
		{0x7c00, math.Inf(1)},
		{0xfc00, math.Inf(-1)},
	}
	for _, tt := range tests {
		if got := F16ToF32(tt.in); float64(got) != tt.want {
			t.Errorf("F16ToF32(%#04x) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// nearestF16 is a slow reference: the half nearest to f, ties to even,
// found among all finite halves; beyond max+half-ulp it is infinity.
func nearestF16(f float32, halves []uint16) uint16 {
	sign := uint16(0)
	x := float64(f)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	if x >= 65520 { // 65504 + half an ulp (16): rounds to infinity
		return sign | 0x7c00
	}
	i := sort.Search(len(halves), func(i int) bool { return float64(F16ToF32(halves[i])) >= x })
	if i == 0 {
		return sign | halves[0]
	}
	if i == len(halves) {
		return sign | halves[i-1]
	}
	lo, hi := halves[i-1], halves[i]
	dl, dh := x-float64(F16ToF32(lo)), float64(F16ToF32(hi))-x
	switch {
	case dl < dh:
		return sign | lo
	case dh < dl:
		return sign | hi
	case lo&1 == 0:
		return sign | lo
	}
	return sign | hi
}

func TestF32ToF16MatchesReference(t *testing.T) {
	var halves []uint16 // every finite non-negative half, ascending
	for h := uint16(0); h < 0x7c00; h++ {
		halves = append(halves, h)
	}
	r := rand.New(rand.NewPCG(1, 2))
	check := func(f float32) {
		if got, want := F32ToF16(f), nearestF16(f, halves); got != want {
			t.Fatalf("F32ToF16(%v = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for range 100000 {
		// Random float32s concentrated on the half range, subnormals included.
		check(float32(math.Ldexp(r.Float64()*2-1, r.IntN(44)-28)))
	}
	for h := range 0x7c00 { // exact ties: halfway between neighbours
		v := float64(F16ToF32(uint16(h)))
		check(float32(v + math.Ldexp(1, -25)*float64(max(1, int(math.Ldexp(v, 14)))))) // near ties
		if h < 0x7bff {
			check(float32((v + float64(F16ToF32(uint16(h+1)))) / 2))
		}
	}
	check(65519.99)
	check(65520)
	check(math.Float32frombits(1)) // tiny subnormal float32 -> 0
}

func TestToFromFloat32(t *testing.T) {
	in := []float32{0, 1, -2.5, 1e-3, 65504}
	for _, dt := range []DType{F32, BF16, F16} {
		b, err := FromFloat32(dt, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != len(in)*dt.Size() {
			t.Fatalf("%s: %d bytes", dt, len(b))
		}
		out, err := ToFloat32(dt, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			if d := math.Abs(float64(out[i]-in[i])) / math.Max(1, math.Abs(float64(in[i]))); d > 1e-2 {
				t.Errorf("%s: %v -> %v", dt, in[i], out[i])
			}
		}
	}
	if _, err := ToFloat32(F32, make([]byte, 3)); err == nil {
		t.Error("ToFloat32 of 3 bytes as F32: no error")
	}
	if _, err := ToFloat32(I32, make([]byte, 4)); err == nil {
		t.Error("ToFloat32 of I32: no error")
	}
	if _, err := FromFloat32(I8, in); err == nil {
		t.Error("FromFloat32 to I8: no error")
	}
}
