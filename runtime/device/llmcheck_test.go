package device

import (
	"strings"
	"testing"
)

// fakeWeights is a Weights over a fixed tensor list.
type fakeWeights []WeightTensor

func (f fakeWeights) Tensor(id int) (WeightTensor, bool) {
	if id < 0 || id >= len(f) {
		return WeightTensor{}, false
	}
	return f[id], true
}
func (f fakeWeights) DeviceBytes() uint64 { return 0 }
func (f fakeWeights) Close() error        { return nil }

func TestCheckLLM(t *testing.T) {
	const size = 1 << 16
	w := fakeWeights{
		{Name: "embed", DType: "BF16", Shape: []int{10, 8}, Data: make([]byte, 160)},
		{Name: "norm", DType: "F32", Shape: []int{8}, Data: make([]byte, 32)},
		{Name: "short", DType: "BF16", Shape: []int{4, 8}, Data: make([]byte, 10)},
		{Name: "int8", DType: "I8", Shape: []int{4, 8}, Data: make([]byte, 32)},
	}
	sp := func(off, n uint64) Span { return Span{Off: off, Len: n} }
	cases := []struct {
		name string
		err  error
		want string // "" means valid
	}{
		// embed
		{"embed ok", err2(CheckEmbed(size, w, 0, sp(0, 12), sp(64, 96), 3)), ""},
		{"embed no tensor", err2(CheckEmbed(size, w, 9, sp(0, 12), sp(64, 96), 3)), "embed: table: no weight tensor 9"},
		{"embed negative id", err2(CheckEmbed(size, w, -1, sp(0, 12), sp(64, 96), 3)), "no weight tensor -1"},
		{"embed rank", err2(CheckEmbed(size, w, 1, sp(0, 12), sp(64, 96), 3)), "want rank 2"},
		{"embed short data", err2(CheckEmbed(size, w, 2, sp(0, 12), sp(64, 96), 3)), "holds 10 bytes, want 64"},
		{"embed dtype", err2(CheckEmbed(size, w, 3, sp(0, 12), sp(64, 96), 3)), `dtype "I8"`},
		{"embed nil weights", err2(CheckEmbed(size, nil, 0, sp(0, 12), sp(64, 96), 3)), "no weights bound"},
		{"embed tokens size", err2(CheckEmbed(size, w, 0, sp(0, 8), sp(64, 96), 3)), "tokens is 8 bytes, want 12"},
		{"embed out size", err2(CheckEmbed(size, w, 0, sp(0, 12), sp(64, 64), 3)), "out is 64 bytes, want 96"},
		{"embed overlap", err2(CheckEmbed(size, w, 0, sp(0, 12), sp(8, 96), 3)), "out [8, +96) overlaps tokens"},
		{"embed n zero", err2(CheckEmbed(size, w, 0, sp(0, 0), sp(64, 0), 0)), "n 0 is not in"},
		{"embed out past end", err2(CheckEmbed(size, w, 0, sp(0, 12), sp(size-32, 96), 3)), "out [65504, +96) is outside memory"},
		{"embed wraps", err2(CheckEmbed(size, w, 0, sp(0, 12), sp(^uint64(0)-8, 96), 3)), "outside memory"},
		{"embed unaligned", err2(CheckEmbed(size, w, 0, sp(2, 12), sp(64, 96), 3)), "tokens offset 2 is not 4-byte aligned"},
		{"embed huge n", err2(CheckEmbed(size, w, 0, sp(0, 12), sp(64, 96), 1<<40)), "n 1099511627776 is not in"},
		// rmsnorm
		{"rmsnorm ok", err2(CheckRMSNorm(size, w, 1, sp(0, 64), sp(64, 64), 2, 1e-5)), ""},
		{"rmsnorm in place", err2(CheckRMSNorm(size, w, 1, sp(0, 64), sp(0, 64), 2, 1e-5)), ""},
		{"rmsnorm partial overlap", err2(CheckRMSNorm(size, w, 1, sp(0, 64), sp(32, 64), 2, 1e-5)), "rmsnorm: out [32, +64) overlaps x"},
		{"rmsnorm rank", err2(CheckRMSNorm(size, w, 0, sp(0, 64), sp(64, 64), 2, 1e-5)), "want rank 1"},
		{"rmsnorm NaN eps", err2(CheckRMSNorm(size, w, 1, sp(0, 64), sp(64, 64), 2, nan32())), "eps NaN"},
		// linear
		{"linear ok", err2(CheckLinear(size, w, 0, sp(0, 64), sp(64, 80), 2)), ""},
		{"linear in place", err2(CheckLinear(size, w, 0, sp(0, 64), sp(0, 80), 2)), "linear: out [0, +80) overlaps x"},
		{"linear x size", err2(CheckLinear(size, w, 0, sp(0, 60), sp(64, 80), 2)), "linear: x is 60 bytes, want 64"},
		// rope
		{"rope ok", CheckRoPE(size, sp(0, 256), sp(256, 16), 2, 4, 8, 100), ""},
		{"rope odd", CheckRoPE(size, sp(0, 224), sp(256, 12), 2, 4, 7, 0), "headDim 7 is odd"},
		{"rope negative pos", CheckRoPE(size, sp(0, 256), sp(256, 16), 2, 4, 8, -1), "pos -1"},
		{"rope overlap", CheckRoPE(size, sp(0, 256), sp(240, 16), 2, 4, 8, 0), "x [0, +256) overlaps invFreq"},
		{"rope overflow", CheckRoPE(size, sp(0, 256), sp(256, 16), 1<<31-1, 1<<31-1, 1<<30, 0), "shape"},
		// kvstore
		{"kvstore ok", err2(CheckKVStore(size, sp(0, 64), sp(64, 10*16), KVBF16, 2, 8, 8)), ""},
		{"kvstore beyond cache", err2(CheckKVStore(size, sp(0, 64), sp(64, 10*16), KVBF16, 2, 9, 8)), "positions 9..10 are beyond cache's 10 rows"},
		{"kvstore ragged cache", err2(CheckKVStore(size, sp(0, 64), sp(64, 10*16+4), KVBF16, 2, 0, 8)), "not a whole number of 16-byte rows"},
		{"kvstore dtype", err2(CheckKVStore(size, sp(0, 64), sp(64, 160), "q4", 2, 0, 8)), `KV dtype "q4"`},
		{"kvstore overlap", err2(CheckKVStore(size, sp(64, 64), sp(64, 160), KVBF16, 2, 0, 8)), "cache [64, +160) overlaps src"},
		{"kvstore huge pos", err2(CheckKVStore(size, sp(0, 64), sp(64, 160), KVBF16, 2, 1<<31-1, 8)), "beyond"},
		// attention: q,out [n=2, heads=4, hd=8] = 256 bytes; caches 10 rows × (kv 2 × 8) f32 = 640
		{"attention ok", err2(CheckAttention(size, sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), KVF32, 2, 8, 4, 2, 8)), ""},
		{"attention gqa", err2(CheckAttention(size, sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), KVF32, 2, 8, 4, 3, 8)), "kvHeads 3 does not divide heads 4"},
		{"attention pos", err2(CheckAttention(size, sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), KVF32, 2, 9, 4, 2, 8)), "positions 9..10 are beyond kCache's 10 rows"},
		{"attention v size", err2(CheckAttention(size, sp(0, 256), sp(256, 640), sp(1024, 320), sp(2048, 256), KVF32, 2, 0, 4, 2, 8)), "vCache is 320 bytes, kCache 640"},
		{"attention out on k", err2(CheckAttention(size, sp(0, 256), sp(256, 640), sp(1024, 640), sp(512, 256), KVF32, 2, 0, 4, 2, 8)), "out [512, +256) overlaps kCache"},
		{"attention out on q", err2(CheckAttention(size, sp(0, 256), sp(256, 640), sp(1024, 640), sp(0, 256), KVF32, 2, 0, 4, 2, 8)), "out [0, +256) overlaps q"},
		// swiglu, add, argmax
		{"swiglu ok", CheckSwiGLU(size, sp(0, 40), sp(40, 40), sp(80, 40), 10), ""},
		{"swiglu in place", CheckSwiGLU(size, sp(0, 40), sp(40, 40), sp(0, 40), 10), ""},
		{"swiglu out on up", CheckSwiGLU(size, sp(0, 40), sp(40, 40), sp(40, 40), 10), "swiglu: out [40, +40) overlaps up"},
		{"swiglu up size", CheckSwiGLU(size, sp(0, 40), sp(40, 36), sp(80, 40), 10), "up is 36 bytes"},
		{"add ok", CheckAdd(size, sp(0, 40), sp(40, 40), 10), ""},
		{"add same", CheckAdd(size, sp(0, 40), sp(0, 40), 10), "add: x [0, +40) overlaps y"},
		{"argmax ok", CheckArgmax(size, sp(0, 80), sp(80, 8), 2, 10), ""},
		{"argmax out size", CheckArgmax(size, sp(0, 80), sp(80, 4), 2, 10), "argmax: out is 4 bytes, want 8"},
		{"argmax overlap", CheckArgmax(size, sp(0, 80), sp(76, 8), 2, 10), "overlaps x"},
	}
	for _, tc := range cases {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, tc.err)
		case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, tc.err, tc.want)
		}
	}
}

func TestCheckLLMReturnsShapes(t *testing.T) {
	w := fakeWeights{{Name: "w", DType: "F16", Shape: []int{3, 4}, Data: make([]byte, 24)}}
	tt, err := CheckLinear(1<<10, w, 0, Span{0, 32}, Span{32, 24}, 2)
	if err != nil || tt.Name != "w" {
		t.Fatalf("got %v, %v", tt, err)
	}
	rows, err := CheckKVStore(1<<10, Span{0, 16}, Span{64, 7 * 8}, KVF16, 1, 6, 4)
	if err != nil || rows != 7 {
		t.Fatalf("kvstore rows %d, %v; want 7", rows, err)
	}
}

func err2[T any](_ T, err error) error { return err }

func nan32() float32 {
	z := float32(0)
	return z / z
}
