package device

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fusedWeights: a norm over 8, q [8, 8], k and v [4, 8], gate and up [12, 8],
// down [8, 12], and a mismatched up [12, 4].
var fusedWeights = fakeWeights{
	{Name: "norm", DType: "F32", Shape: []int{8}, Data: make([]byte, 32)},
	{Name: "q", DType: "BF16", Shape: []int{8, 8}, Data: make([]byte, 128)},
	{Name: "k", DType: "BF16", Shape: []int{4, 8}, Data: make([]byte, 64)},
	{Name: "v", DType: "BF16", Shape: []int{4, 8}, Data: make([]byte, 64)},
	{Name: "gate", DType: "BF16", Shape: []int{12, 8}, Data: make([]byte, 192)},
	{Name: "up", DType: "BF16", Shape: []int{12, 8}, Data: make([]byte, 192)},
	{Name: "down", DType: "BF16", Shape: []int{8, 12}, Data: make([]byte, 192)},
	{Name: "up f32", DType: "F32", Shape: []int{12, 8}, Data: make([]byte, 384)},
}

func TestCheckFused(t *testing.T) {
	const size = 1 << 16
	w := fusedWeights
	sp := func(off, n uint64) Span { return Span{Off: off, Len: n} }
	// n = 2 rows: x, xb [2, 8] = 64 bytes; q [2, 8] = 64; k, v [2, 4] = 32.
	x, xb, q, k, v := sp(0, 64), sp(64, 64), sp(128, 64), sp(192, 32), sp(224, 32)
	qkv := []Span{q, k, v}
	// NormGLU: tmp, out [2, 12] = 96 bytes.
	tmp, out := sp(256, 96), sp(352, 96)
	// RoPEKV: heads 2, kvHeads 1, headDim 4 (q [2, 2, 4], k and v [2, 1, 4]);
	// invFreq [2]; caches of 8 rows of 4 f32.
	f, kc, vc := sp(448, 8), sp(512, 128), sp(640, 128)
	cases := []struct {
		name string
		err  error
		want string // "" means valid
	}{
		{"norm_linear ok", err2(CheckNormLinear(size, w, 0, []int{1, 2, 3}, x, xb, qkv, 2, 1e-5)), ""},
		{"norm_linear one", err2(CheckNormLinear(size, w, 0, []int{1}, x, xb, qkv[:1], 2, 1e-5)), ""},
		{"norm_linear none", err2(CheckNormLinear(size, w, 0, nil, x, xb, nil, 2, 1e-5)), "0 weights and 0 outputs"},
		{"norm_linear four", err2(CheckNormLinear(size, w, 0, []int{1, 2, 3, 1}, x, xb, append(qkv, sp(900, 64)), 2, 1e-5)), "want 1 to 3"},
		{"norm_linear outs mismatch", err2(CheckNormLinear(size, w, 0, []int{1, 2}, x, xb, qkv, 2, 1e-5)), "2 weights and 3 outputs"},
		{"norm_linear xb is x", err2(CheckNormLinear(size, w, 0, []int{1}, x, x, qkv[:1], 2, 1e-5)), "overlaps"},
		{"norm_linear outs overlap", err2(CheckNormLinear(size, w, 0, []int{2, 3}, x, xb, []Span{k, sp(200, 32)}, 2, 1e-5)), "outs[1] [200, +32) overlaps outs[0]"},
		{"norm_linear out on x", err2(CheckNormLinear(size, w, 0, []int{1}, x, xb, []Span{sp(32, 64)}, 2, 1e-5)), "overlaps"},
		{"norm_linear bad projection", err2(CheckNormLinear(size, w, 0, []int{1, 6}, x, xb, []Span{q, sp(900, 64)}, 2, 1e-5)), "projection 1: linear"},
		{"norm_linear bad norm", err2(CheckNormLinear(size, w, 1, []int{1}, x, xb, qkv[:1], 2, 1e-5)), "norm_linear: rmsnorm"},
		{"norm_glu ok", err3(CheckNormGLU(size, w, 0, 4, 5, x, xb, tmp, out, 2, 1e-5)), ""},
		{"norm_glu up dtype", err3(CheckNormGLU(size, w, 0, 4, 7, x, xb, tmp, out, 2, 1e-5)), "gate BF16 [12 8] and up F32 [12 8] differ"},
		{"norm_glu up wrong", err3(CheckNormGLU(size, w, 0, 4, 6, x, xb, tmp, out, 2, 1e-5)), "norm_glu: up: linear"},
		{"norm_glu tmp is out", err3(CheckNormGLU(size, w, 0, 4, 5, x, xb, out, out, 2, 1e-5)), "overlaps"},
		{"linear_add ok", err2(CheckLinearAdd(size, w, 6, tmp, sp(900, 64), x, 2)), ""},
		{"linear_add resid on input", err2(CheckLinearAdd(size, w, 6, tmp, sp(900, 64), sp(300, 64), 2)), "overlaps"},
		{"linear_add tmp size", err2(CheckLinearAdd(size, w, 6, tmp, sp(900, 60), x, 2)), "linear_add: linear: out is 60 bytes"},
		{"rope_kv ok", CheckRoPEKV(size, q, k, v, f, kc, vc, KVF32, 2, 3, 2, 1, 4), ""},
		{"rope_kv past cache", CheckRoPEKV(size, q, k, v, f, kc, vc, KVF32, 2, 7, 2, 1, 4), "rope_kv: k: kvstore: positions 7..8 are beyond cache's 8 rows"},
		{"rope_kv v on k cache", CheckRoPEKV(size, q, k, kc, f, kc, vc, KVF32, 2, 3, 2, 1, 4), "rope_kv: v: kvstore"},
		{"rope_kv q on invFreq", CheckRoPEKV(size, q, k, v, sp(128, 8), kc, vc, KVF32, 2, 3, 2, 1, 4), "rope_kv: q: rope"},
		{"rope_kv caches overlap", CheckRoPEKV(size, q, k, v, f, kc, sp(600, 128), KVF32, 2, 3, 2, 1, 4), "vCache [600, +128) overlaps kCache"},
	}
	for _, c := range cases {
		if c.want == "" {
			if c.err != nil {
				t.Errorf("%s: unexpected error %v", c.name, c.err)
			}
			continue
		}
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, c.err, c.want)
		}
	}
}

func err3[A, B any](_ A, _ B, err error) error { return err }

// recorder is an LLMOps that records the basic ops called on it and runs
// each fused op as its defining sequence; fail makes the named op fail.
type recorder struct {
	calls []string
	fail  string
}

func (r *recorder) rec(op string, args ...any) error {
	r.calls = append(r.calls, strings.TrimSpace(fmt.Sprintln(append([]any{op}, args...)...)))
	if op == r.fail {
		return errors.New("injected")
	}
	return nil
}

func (r *recorder) Embed(_ Weights, table int, tokens, out Span, n int) error {
	return r.rec("embed", table, tokens, out, n)
}
func (r *recorder) RMSNorm(_ Weights, weight int, x, out Span, n int, eps float32) error {
	return r.rec("rmsnorm", weight, x, out, n)
}
func (r *recorder) Linear(_ Weights, weight int, x, out Span, n int) error {
	return r.rec("linear", weight, x, out, n)
}
func (r *recorder) RoPE(x, invFreq Span, n, heads, headDim, pos int) error {
	return r.rec("rope", x, heads, pos)
}
func (r *recorder) KVStore(src, cache Span, dt KVDType, n, pos, width int) error {
	return r.rec("kvstore", src, cache, pos, width)
}
func (r *recorder) Attention(q, kCache, vCache, out Span, dt KVDType, n, pos, heads, kvHeads, headDim int) error {
	return r.rec("attention")
}
func (r *recorder) SwiGLU(gate, up, out Span, count int) error {
	return r.rec("swiglu", gate, up, out, count)
}
func (r *recorder) Add(x, y Span, count int) error         { return r.rec("add", x, y, count) }
func (r *recorder) Argmax(x, out Span, n, width int) error { return r.rec("argmax") }
func (r *recorder) Sync() error                            { return nil }
func (r *recorder) NormLinear(w Weights, norm int, weights []int, x, xb Span, outs []Span, n int, eps float32) error {
	return ComposeNormLinear(r, 1<<16, w, norm, weights, x, xb, outs, n, eps)
}
func (r *recorder) NormGLU(w Weights, norm, gate, up int, x, xb, tmp, out Span, n int, eps float32) error {
	return ComposeNormGLU(r, 1<<16, w, norm, gate, up, x, xb, tmp, out, n, eps)
}
func (r *recorder) LinearAdd(w Weights, weight int, x, tmp, resid Span, n int) error {
	return ComposeLinearAdd(r, 1<<16, w, weight, x, tmp, resid, n)
}
func (r *recorder) RoPEKV(q, k, v, invFreq, kCache, vCache Span, dt KVDType, n, pos, heads, kvHeads, headDim int) error {
	return ComposeRoPEKV(r, 1<<16, q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)
}

// TestComposeRunsTheDefinition checks that each fused op's composition
// calls exactly its defining sequence of basic ops, in order, and that a
// failing step comes back naming the fused op.
func TestComposeRunsTheDefinition(t *testing.T) {
	w := fusedWeights
	sp := func(off, n uint64) Span { return Span{Off: off, Len: n} }
	x, xb, q, k, v := sp(0, 64), sp(64, 64), sp(128, 64), sp(192, 32), sp(224, 32)
	tmp, out := sp(256, 96), sp(352, 96)
	f, kc, vc := sp(448, 8), sp(512, 128), sp(640, 128)
	cases := []struct {
		name string
		run  func(r *recorder) error
		want []string
	}{
		{"norm_linear", func(r *recorder) error { return r.NormLinear(w, 0, []int{1, 2, 3}, x, xb, []Span{q, k, v}, 2, 1e-5) },
			[]string{"rmsnorm 0 {0 64} {64 64} 2", "linear 1 {64 64} {128 64} 2", "linear 2 {64 64} {192 32} 2", "linear 3 {64 64} {224 32} 2"}},
		{"norm_glu", func(r *recorder) error { return r.NormGLU(w, 0, 4, 5, x, xb, tmp, out, 2, 1e-5) },
			[]string{"rmsnorm 0 {0 64} {64 64} 2", "linear 4 {64 64} {352 96} 2", "linear 5 {64 64} {256 96} 2", "swiglu {352 96} {256 96} {352 96} 24"}},
		{"linear_add", func(r *recorder) error { return r.LinearAdd(w, 6, tmp, sp(900, 64), x, 2) },
			[]string{"linear 6 {256 96} {900 64} 2", "add {0 64} {900 64} 16"}},
		{"rope_kv", func(r *recorder) error { return r.RoPEKV(q, k, v, f, kc, vc, KVF32, 2, 3, 2, 1, 4) },
			[]string{"rope {128 64} 2 3", "rope {192 32} 1 3", "kvstore {192 32} {512 128} 3 4", "kvstore {224 32} {640 128} 3 4"}},
	}
	for _, c := range cases {
		r := &recorder{}
		if err := c.run(r); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(r.calls, c.want) {
			t.Errorf("%s ran\n%q\nwant\n%q", c.name, r.calls, c.want)
		}
		// The last step failing: the error names the fused op, and no step
		// after it runs.
		last := strings.Fields(c.want[len(c.want)-1])[0]
		r = &recorder{fail: last}
		if err := c.run(r); err == nil || !strings.HasPrefix(err.Error(), c.name+": ") || !strings.Contains(err.Error(), "injected") {
			t.Errorf("%s with a failing %s: %v", c.name, last, err)
		}
		// An invalid call runs nothing.
		r = &recorder{}
		bad := func(r *recorder) error { return r.NormLinear(w, 0, []int{1}, x, x, []Span{q}, 2, 1e-5) }
		if err := bad(r); err == nil || len(r.calls) != 0 {
			t.Errorf("invalid norm_linear: %v after %q", err, r.calls)
		}
	}
}
