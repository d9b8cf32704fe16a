package llmabi

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

func tensor(name, dt string, shape ...int) device.WeightTensor {
	n := device.WeightDTypeSize(dt)
	for _, d := range shape {
		n *= d
	}
	return device.WeightTensor{Name: name, DType: dt, Shape: shape, Data: make([]byte, n)}
}

// testWeights: 0 embed [10, 8]; 1 norm [8]; 2 short (bytes missing); 3 int8;
// 4 q [8, 8]; 5 k and 6 v [4, 8]; 7 gate, 8 up [12, 8]; 9 down [8, 12];
// 10 up in f32.
var testWeights = HostWeights{
	tensor("embed", "BF16", 10, 8),
	tensor("norm", "F32", 8),
	{Name: "short", DType: "BF16", Shape: []int{4, 8}, Data: make([]byte, 10)},
	{Name: "int8", DType: "I8", Shape: []int{4, 8}, Data: make([]byte, 32)},
	tensor("q", "BF16", 8, 8), tensor("k", "BF16", 4, 8), tensor("v", "BF16", 4, 8),
	tensor("gate", "BF16", 12, 8), tensor("up", "BF16", 12, 8), tensor("down", "BF16", 8, 12),
	tensor("up f32", "F32", 12, 8),
}

func sp(off, n uint64) device.Span { return device.Span{Off: off, Len: n} }

func nan32() float32 { return float32(math.NaN()) }

// TestValidate holds every rule of the table to a valid and an invalid call.
func TestValidate(t *testing.T) {
	const size = 1 << 16
	w := testWeights
	// n = 2 rows of 8: x, xb [2, 8] = 64 bytes; q [2, 8] = 64; k, v [2, 4] = 32.
	x, xb, q, k, v := sp(0, 64), sp(64, 64), sp(128, 64), sp(192, 32), sp(224, 32)
	qkv := []device.Span{q, k, v}
	tmp, out := sp(256, 96), sp(352, 96) // [2, 12]
	// rope_kv: heads 2, kvHeads 1, headDim 4; invFreq [2]; caches 8 rows of 4 f32.
	f, kc, vc := sp(448, 8), sp(512, 128), sp(640, 128)
	cases := []struct {
		name string
		call Call
		want string // "" means valid
	}{
		{"embed ok", Embed(0, sp(0, 12), sp(64, 96), 3), ""},
		{"embed no tensor", Embed(99, sp(0, 12), sp(64, 96), 3), "embed: table: no weight tensor 99"},
		{"embed negative id", Embed(-1, sp(0, 12), sp(64, 96), 3), "no weight tensor -1"},
		{"embed rank", Embed(1, sp(0, 12), sp(64, 96), 3), "table: tensor 1 (norm) has shape [8], want [vocab, dim]"},
		{"embed short data", Embed(2, sp(0, 12), sp(64, 96), 3), "holds 10 bytes, want 64"},
		{"embed dtype", Embed(3, sp(0, 12), sp(64, 96), 3), `dtype "I8"`},
		{"embed tokens size", Embed(0, sp(0, 8), sp(64, 96), 3), "tokens is 8 bytes, want 12 for i32[n=3]"},
		{"embed out size", Embed(0, sp(0, 12), sp(64, 64), 3), "out is 64 bytes, want 96 for f32[n=3, dim=8]"},
		{"embed overlap", Embed(0, sp(0, 12), sp(8, 96), 3), "embed: out [8, +96) overlaps tokens [0, +12)"},
		{"embed n zero", Embed(0, sp(0, 0), sp(64, 0), 0), "n 0 is not in [1, 2^31)"},
		{"embed out past end", Embed(0, sp(0, 12), sp(size-32, 96), 3), "out [65504, +96) is outside memory of 65536 bytes"},
		{"embed wraps", Embed(0, sp(0, 12), sp(^uint64(0)-8, 96), 3), "outside memory"},
		{"embed unaligned", Embed(0, sp(2, 12), sp(64, 96), 3), "tokens offset 2 is not 4-byte aligned"},
		{"embed huge n", Embed(0, sp(0, 12), sp(64, 96), 1<<40), "n 1099511627776 is not in"},
		{"rmsnorm ok", RMSNorm(1, sp(0, 64), sp(64, 64), 2, 1e-5), ""},
		{"rmsnorm in place", RMSNorm(1, sp(0, 64), sp(0, 64), 2, 1e-5), ""},
		{"rmsnorm partial overlap", RMSNorm(1, sp(0, 64), sp(32, 64), 2, 1e-5), "rmsnorm: out [32, +64) overlaps x [0, +64)"},
		{"rmsnorm rank", RMSNorm(0, sp(0, 64), sp(64, 64), 2, 1e-5), "want [dim]"},
		{"rmsnorm NaN eps", RMSNorm(1, sp(0, 64), sp(64, 64), 2, nan32()), "eps NaN is not a non-negative number"},
		{"rmsnorm negative eps", RMSNorm(1, sp(0, 64), sp(64, 64), 2, -1), "eps -1"},
		{"linear ok", Linear(0, sp(0, 64), sp(64, 80), 2), ""},
		{"linear in place", Linear(0, sp(0, 64), sp(0, 80), 2), "linear: out [0, +80) overlaps x"},
		{"linear x size", Linear(0, sp(0, 60), sp(64, 80), 2), "linear: x is 60 bytes, want 64"},
		{"linear no weights", Linear(0, sp(0, 64), sp(64, 80), 2), ""}, // replaced below
		{"rope ok", RoPE(sp(0, 256), sp(256, 16), 2, 4, 8, 100), ""},
		{"rope odd", RoPE(sp(0, 224), sp(256, 12), 2, 4, 7, 0), "headDim 7 is not a multiple of 2"},
		{"rope negative pos", RoPE(sp(0, 256), sp(256, 16), 2, 4, 8, -1), "pos -1 is not in [0, 2^31)"},
		{"rope overlap", RoPE(sp(0, 256), sp(240, 16), 2, 4, 8, 0), "x [0, +256) overlaps invFreq [240, +16)"},
		{"rope overflow", RoPE(sp(0, 256), sp(256, 16), 1<<31-1, 1<<31-1, 1<<30, 0), "overflows"},
		{"kvstore ok", KVStore(sp(0, 64), sp(64, 10*16), device.KVBF16, 2, 8, 8), ""},
		{"kvstore beyond cache", KVStore(sp(0, 64), sp(64, 10*16), device.KVBF16, 2, 9, 8), "pos + n = 11 is beyond cache's rows = 10"},
		{"kvstore ragged cache", KVStore(sp(0, 64), sp(64, 10*16+4), device.KVBF16, 2, 0, 8), "cache is 164 bytes, not a whole number of 16-byte rows of bf16[seq, width=8]"},
		{"kvstore empty cache", KVStore(sp(0, 64), sp(64, 0), device.KVBF16, 2, 0, 8), "not a whole number"},
		{"kvstore dtype", KVStore(sp(0, 64), sp(64, 160), "q4", 2, 0, 8), `KV dtype "q4" is not f32, bf16 or f16`},
		{"kvstore overlap", KVStore(sp(64, 64), sp(64, 160), device.KVBF16, 2, 0, 8), "cache [64, +160) overlaps src"},
		{"kvstore huge pos", KVStore(sp(0, 64), sp(64, 160), device.KVBF16, 2, 1<<31-1, 8), "beyond cache's rows"},
		// attention: q, out [n=2, heads=4, hd=8] = 256 bytes; caches 10 rows × (kv 2 × 8) f32 = 640
		{"attention ok", Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 8, 4, 2, 8), ""},
		{"attention gqa", Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 8, 4, 3, 8), "heads 4 is not a multiple of kvHeads"},
		{"attention pos", Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 9, 4, 2, 8), "pos + n = 11 is beyond kCache's rows = 10"},
		{"attention v size", Attention(sp(0, 256), sp(256, 640), sp(1024, 320), sp(2048, 256), device.KVF32, 2, 0, 4, 2, 8), "vCache is 320 bytes, want 640 for f32[seq=10, kvHeads=2, headDim=8]"},
		{"attention out on k", Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(512, 256), device.KVF32, 2, 0, 4, 2, 8), "out [512, +256) overlaps kCache"},
		{"attention out on q", Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(0, 256), device.KVF32, 2, 0, 4, 2, 8), "out [0, +256) overlaps q"},
		{"attention q on cache", Attention(sp(256, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 0, 4, 2, 8), ""}, // inputs may overlap
		{"swiglu ok", SwiGLU(sp(0, 40), sp(40, 40), sp(80, 40), 10), ""},
		{"swiglu in place", SwiGLU(sp(0, 40), sp(40, 40), sp(0, 40), 10), ""},
		{"swiglu out on up", SwiGLU(sp(0, 40), sp(40, 40), sp(40, 40), 10), "swiglu: out [40, +40) overlaps up"},
		{"swiglu up size", SwiGLU(sp(0, 40), sp(40, 36), sp(80, 40), 10), "up is 36 bytes"},
		{"add ok", Add(sp(0, 40), sp(40, 40), 10), ""},
		{"add same", Add(sp(0, 40), sp(0, 40), 10), "add: x [0, +40) overlaps y"},
		{"argmax ok", Argmax(sp(0, 80), sp(80, 8), 2, 10), ""},
		{"argmax out size", Argmax(sp(0, 80), sp(80, 4), 2, 10), "argmax: out is 4 bytes, want 8"},
		{"argmax overlap", Argmax(sp(0, 80), sp(76, 8), 2, 10), "out [76, +8) overlaps x"},
		{"sync", Sync(), ""},
		{"norm_linear ok", NormLinear(1, []int{4, 5, 6}, x, xb, qkv, 2, 1e-5), ""},
		{"norm_linear one", NormLinear(1, []int{4}, x, xb, qkv[:1], 2, 1e-5), ""},
		{"norm_linear none", NormLinear(1, nil, x, xb, nil, 2, 1e-5), "norm_linear: count 0 is not in [1, 3]"},
		{"norm_linear four", NormLinear(1, []int{4, 5, 6, 4}, x, xb, append(qkv, sp(900, 64)), 2, 1e-5), "count 4"},
		{"norm_linear outs mismatch", NormLinear(1, []int{4, 5}, x, xb, qkv, 2, 1e-5), "2 weights and 3 operands"},
		{"norm_linear xb is x", NormLinear(1, []int{4}, x, x, qkv[:1], 2, 1e-5), "xb [0, +64) overlaps x"},
		{"norm_linear outs overlap", NormLinear(1, []int{5, 6}, x, xb, []device.Span{k, sp(200, 32)}, 2, 1e-5), "outs[1] [200, +32) overlaps outs[0] [192, +32)"},
		{"norm_linear out on x", NormLinear(1, []int{4}, x, xb, []device.Span{sp(32, 64)}, 2, 1e-5), "outs[0] [32, +64) overlaps x"},
		{"norm_linear bad projection", NormLinear(1, []int{4, 9}, x, xb, []device.Span{q, sp(900, 64)}, 2, 1e-5), "weights[1]: tensor 9 (down) has shape [8 12], want [rows[1], dim=8]"},
		{"norm_linear bad norm", NormLinear(4, []int{4}, x, xb, qkv[:1], 2, 1e-5), "norm: tensor 4 (q) has shape [8 8], want [dim]"},
		{"norm_glu ok", NormGLU(1, 7, 8, x, xb, tmp, out, 2, 1e-5), ""},
		{"norm_glu up dtype", NormGLU(1, 7, 10, x, xb, tmp, out, 2, 1e-5), "up is F32 and gate is BF16"},
		{"norm_glu up wrong", NormGLU(1, 7, 9, x, xb, tmp, out, 2, 1e-5), "up: tensor 9 (down) has shape [8 12], want [inter=12, dim=8]"},
		{"norm_glu tmp is out", NormGLU(1, 7, 8, x, xb, out, out, 2, 1e-5), "out [352, +96) overlaps tmp"},
		{"linear_add ok", LinearAdd(9, tmp, sp(900, 64), x, 2), ""},
		{"linear_add resid on input", LinearAdd(9, tmp, sp(900, 64), sp(300, 64), 2), "resid [300, +64) overlaps x"},
		{"linear_add tmp size", LinearAdd(9, tmp, sp(900, 60), x, 2), "linear_add: tmp is 60 bytes"},
		{"rope_kv ok", RoPEKV(q, k, v, f, kc, vc, device.KVF32, 2, 3, 2, 1, 4), ""},
		{"rope_kv past cache", RoPEKV(q, k, v, f, kc, vc, device.KVF32, 2, 7, 2, 1, 4), "rope_kv: pos + n = 9 is beyond kCache's rows = 8"},
		{"rope_kv v on k cache", RoPEKV(q, k, kc, f, kc, vc, device.KVF32, 2, 3, 2, 1, 4), "v is 128 bytes"},
		{"rope_kv q on invFreq", RoPEKV(q, k, v, sp(128, 8), kc, vc, device.KVF32, 2, 3, 2, 1, 4), "q [128, +64) overlaps invFreq"},
		{"rope_kv caches overlap", RoPEKV(q, k, v, f, kc, sp(600, 128), device.KVF32, 2, 3, 2, 1, 4), "vCache [600, +128) overlaps kCache"},
		{"rope_kv caches differ", RoPEKV(q, k, v, f, kc, sp(640, 64), device.KVF32, 2, 3, 2, 1, 4), "vCache is 64 bytes, want 128"},
		{"unknown op", Call{Op: 200}, "op 200 is not in the op table"},
	}
	for _, tc := range cases {
		ws := device.Weights(w)
		if tc.name == "linear no weights" {
			ws, tc.want = nil, "linear: weight: no weights bound"
		}
		err := tc.call.Validate(size, ws)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestValidateDoesNotAllocate: the success path allocates nothing, so the
// host and every backend can run it on every call.
func TestValidateDoesNotAllocate(t *testing.T) {
	var w device.Weights = testWeights
	calls := []Call{
		NormLinear(1, []int{4, 5, 6}, sp(0, 64), sp(64, 64), []device.Span{sp(128, 64), sp(192, 32), sp(224, 32)}, 2, 1e-5),
		Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 8, 4, 2, 8),
		Add(sp(0, 40), sp(40, 40), 10),
		RoPEKV(sp(128, 64), sp(192, 32), sp(224, 32), sp(448, 8), sp(512, 128), sp(640, 128), device.KVF32, 2, 3, 2, 1, 4),
		NormGLU(1, 7, 8, sp(0, 64), sp(64, 64), sp(256, 96), sp(352, 96), 2, 1e-5),
	}
	for i := range calls {
		if n := testing.AllocsPerRun(100, func() {
			if err := calls[i].Validate(1<<16, w); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per Validate", calls[i].Op, n)
		}
	}
}

// TestEncodeDecode: a call's wire form decodes to the same call, for every op.
func TestEncodeDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, op := range Ops() {
		l := op.Layout()
		c := Call{Op: op, KV: device.KVBF16, F: 1e-5}
		if l.Group > 0 {
			c.Count = 2
		}
		for i := range c.W {
			c.W[i] = int(r.Int32N(100)) - 3
		}
		for i := range c.S {
			c.S[i] = sp(uint64(r.Uint32()), uint64(r.Uint32()))
		}
		for i := range c.I {
			c.I[i] = int(r.Uint32())
		}
		// Decode fills only the op's own arguments: clear the rest.
		want := c
		if l.DType == "" {
			want.KV = ""
		}
		if l.F32 == "" {
			want.F = 0
		}
		want.W, want.S, want.I = [MaxWeights]int{}, [MaxOperands]device.Span{}, [MaxInts]int{}
		copy(want.W[:], c.W[:len(l.Weights)])
		copy(want.S[:], c.S[:len(l.Operands)])
		copy(want.I[:], c.I[:len(l.Ints)])
		words := c.Encode(nil)
		if Op(words[0]) != op || len(words) != 1+op.Words() {
			t.Fatalf("%s: encoded %d words, code %d", op, len(words), words[0])
		}
		var got Call
		err := Decode(op, words[1:], &got)
		if err != nil {
			t.Fatal(err)
		}
		if got.Op != want.Op || got.Count != want.Count || got.W != want.W || got.S != want.S || got.I != want.I || got.F != want.F || got.KV != want.KV {
			t.Errorf("%s: decoded\n%+v\nwant\n%+v", op, got, want)
		}
	}
	var c Call
	if err := Decode(OpKVStore, []uint32{0, 4, 4, 4, 7, 1, 0, 1}, &c); err == nil || !strings.Contains(err.Error(), "KV dtype code 7") {
		t.Errorf("KV code 7: %v", err)
	}
	if err := Decode(OpAdd, []uint64{1, 2}, &c); err == nil || !strings.Contains(err.Error(), "2 argument words, want 5") {
		t.Errorf("short call: %v", err)
	}
}

// FuzzDecodeValidate hands the decoder and the validator arbitrary words:
// they must return a call or an error, never panic, and a call they accept
// must lie inside memory and hold no hazardous overlap.
func FuzzDecodeValidate(f *testing.F) {
	for _, c := range []Call{
		NormLinear(1, []int{4, 5, 6}, sp(0, 64), sp(64, 64), []device.Span{sp(128, 64), sp(192, 32), sp(224, 32)}, 2, 1e-5),
		Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 8, 4, 2, 8),
		RoPEKV(sp(128, 64), sp(192, 32), sp(224, 32), sp(448, 8), sp(512, 128), sp(640, 128), device.KVF32, 2, 3, 2, 1, 4),
		Embed(0, sp(0, 12), sp(64, 96), 3),
	} {
		var b []byte
		for _, w := range c.Encode(nil) {
			b = append(b, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 4 {
			return
		}
		words := make([]uint32, len(b)/4)
		for i := range words {
			words[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
		}
		op := Op(words[0] % 16)
		n := op.Words()
		if n < 0 || len(words) < 1+n {
			return
		}
		var c Call
		if err := Decode(op, words[1:1+n], &c); err != nil {
			return
		}
		const size = 4096
		if c.Validate(size, testWeights) != nil {
			return
		}
		l := op.Layout()
		for i, o := range l.Operands {
			if o.Slot >= 0 && o.Slot >= c.Count {
				continue
			}
			if c.S[i].End() > size || c.S[i].End() < c.S[i].Off {
				t.Fatalf("%s: accepted %s %v outside memory", op, o.Name, c.S[i])
			}
		}
	})
}

// BenchmarkValidate prices the validation every dispatch runs, host and
// backend: a basic op, a fused op with a group and an attention.
func BenchmarkValidate(b *testing.B) {
	var w device.Weights = testWeights
	for _, c := range []Call{
		Add(sp(0, 40), sp(40, 40), 10),
		NormLinear(1, []int{4, 5, 6}, sp(0, 64), sp(64, 64), []device.Span{sp(128, 64), sp(192, 32), sp(224, 32)}, 2, 1e-5),
		Attention(sp(0, 256), sp(256, 640), sp(1024, 640), sp(2048, 256), device.KVF32, 2, 8, 4, 2, 8),
	} {
		b.Run(c.Op.String(), func(b *testing.B) {
			for b.Loop() {
				if err := c.Validate(1<<16, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecode prices reading a host call's stack into a Call.
func BenchmarkDecode(b *testing.B) {
	for _, c := range []Call{
		Add(sp(0, 40), sp(40, 40), 10),
		NormLinear(1, []int{4, 5, 6}, sp(0, 64), sp(64, 64), []device.Span{sp(128, 64), sp(192, 32), sp(224, 32)}, 2, 1e-5),
	} {
		var stack []uint64
		for _, w := range c.Encode(nil)[1:] {
			stack = append(stack, uint64(w))
		}
		b.Run(c.Op.String(), func(b *testing.B) {
			var d Call
			for b.Loop() {
				if err := Decode(c.Op, stack, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
