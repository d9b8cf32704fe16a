package compose

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// weights: a norm over 8, q [8, 8], k and v [4, 8], gate and up [12, 8], down [8, 12].
var weights = llmabi.HostWeights{
	{Name: "norm", DType: "F32", Shape: []int{8}, Data: make([]byte, 32)},
	{Name: "q", DType: "BF16", Shape: []int{8, 8}, Data: make([]byte, 128)},
	{Name: "k", DType: "BF16", Shape: []int{4, 8}, Data: make([]byte, 64)},
	{Name: "v", DType: "BF16", Shape: []int{4, 8}, Data: make([]byte, 64)},
	{Name: "gate", DType: "BF16", Shape: []int{12, 8}, Data: make([]byte, 192)},
	{Name: "up", DType: "BF16", Shape: []int{12, 8}, Data: make([]byte, 192)},
	{Name: "down", DType: "BF16", Shape: []int{8, 12}, Data: make([]byte, 192)},
}

// recorder is an LLMOps that records the basic ops called on it and runs
// each fused op as its definition; fail makes the named op fail.
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

func (r *recorder) Embed(_ device.Weights, table int, tokens, out device.Span, n int) error {
	return r.rec("embed", table, tokens, out, n)
}
func (r *recorder) RMSNorm(_ device.Weights, weight int, x, out device.Span, n int, eps float32) error {
	return r.rec("rmsnorm", weight, x, out, n)
}
func (r *recorder) Linear(_ device.Weights, weight int, x, out device.Span, n int) error {
	return r.rec("linear", weight, x, out, n)
}
func (r *recorder) RoPE(x, invFreq device.Span, n, heads, headDim, pos int) error {
	return r.rec("rope", x, heads, pos)
}
func (r *recorder) KVStore(src, cache device.Span, dt device.KVDType, n, pos, width int) error {
	return r.rec("kvstore", src, cache, pos, width)
}
func (r *recorder) Attention(q, kCache, vCache, out device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return r.rec("attention")
}
func (r *recorder) SwiGLU(gate, up, out device.Span, count int) error {
	return r.rec("swiglu", gate, up, out, count)
}
func (r *recorder) Add(x, y device.Span, count int) error         { return r.rec("add", x, y, count) }
func (r *recorder) Argmax(x, out device.Span, n, width int) error { return r.rec("argmax") }
func (r *recorder) Sync() error                                   { return nil }
func (r *recorder) NormLinear(w device.Weights, norm int, weights []int, x, xb device.Span, outs []device.Span, n int, eps float32) error {
	return NormLinear(r, 1<<16, w, norm, weights, x, xb, outs, n, eps)
}
func (r *recorder) NormGLU(w device.Weights, norm, gate, up int, x, xb, tmp, out device.Span, n int, eps float32) error {
	return NormGLU(r, 1<<16, w, norm, gate, up, x, xb, tmp, out, n, eps)
}
func (r *recorder) LinearAdd(w device.Weights, weight int, x, tmp, resid device.Span, n int) error {
	return LinearAdd(r, 1<<16, w, weight, x, tmp, resid, n)
}
func (r *recorder) RoPEKV(q, k, v, invFreq, kCache, vCache device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return RoPEKV(r, 1<<16, q, k, v, invFreq, kCache, vCache, dt, n, pos, heads, kvHeads, headDim)
}

// TestRunsTheDefinition checks that each fused op's composition calls
// exactly its definition's basic ops, in order, that a failing step comes
// back naming the fused op, and that an invalid call runs nothing.
func TestRunsTheDefinition(t *testing.T) {
	w := weights
	sp := func(off, n uint64) device.Span { return device.Span{Off: off, Len: n} }
	x, xb, q, k, v := sp(0, 64), sp(64, 64), sp(128, 64), sp(192, 32), sp(224, 32)
	tmp, out := sp(256, 96), sp(352, 96)
	f, kc, vc := sp(448, 8), sp(512, 128), sp(640, 128)
	cases := []struct {
		name string
		call llmabi.Call
		want []string
	}{
		{"norm_linear", llmabi.NormLinear(0, []int{1, 2, 3}, x, xb, []device.Span{q, k, v}, 2, 1e-5),
			[]string{"rmsnorm 0 {0 64} {64 64} 2", "linear 1 {64 64} {128 64} 2", "linear 2 {64 64} {192 32} 2", "linear 3 {64 64} {224 32} 2"}},
		{"norm_glu", llmabi.NormGLU(0, 4, 5, x, xb, tmp, out, 2, 1e-5),
			[]string{"rmsnorm 0 {0 64} {64 64} 2", "linear 4 {64 64} {352 96} 2", "linear 5 {64 64} {256 96} 2", "swiglu {352 96} {256 96} {352 96} 24"}},
		{"linear_add", llmabi.LinearAdd(6, tmp, sp(900, 64), x, 2),
			[]string{"linear 6 {256 96} {900 64} 2", "add {0 64} {900 64} 16"}},
		{"rope_kv", llmabi.RoPEKV(q, k, v, f, kc, vc, device.KVF32, 2, 3, 2, 1, 4),
			[]string{"rope {128 64} 2 3", "rope {192 32} 1 3", "kvstore {192 32} {512 128} 3 4", "kvstore {224 32} {640 128} 3 4"}},
	}
	for _, c := range cases {
		r := &recorder{}
		if err := Run(r, 1<<16, w, &c.call); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(r.calls, c.want) {
			t.Errorf("%s ran\n%q\nwant\n%q", c.name, r.calls, c.want)
		}
		// Through the recorder's own method (Dispatch): the same sequence.
		r = &recorder{}
		if err := llmabi.Dispatch(r, w, &c.call); err != nil || !slices.Equal(r.calls, c.want) {
			t.Errorf("%s dispatched: %v, ran %q", c.name, err, r.calls)
		}
		// The last step failing: the error names the fused op, and no step
		// after it runs.
		last := strings.Fields(c.want[len(c.want)-1])[0]
		r = &recorder{fail: last}
		if err := Run(r, 1<<16, w, &c.call); err == nil || !strings.HasPrefix(err.Error(), c.name+": ") || !strings.Contains(err.Error(), "injected") {
			t.Errorf("%s with a failing %s: %v", c.name, last, err)
		}
	}
	// An invalid call runs nothing.
	r := &recorder{}
	bad := llmabi.NormLinear(0, []int{1}, x, x, []device.Span{q}, 2, 1e-5)
	if err := Run(r, 1<<16, w, &bad); err == nil || len(r.calls) != 0 {
		t.Errorf("invalid norm_linear: %v after %q", err, r.calls)
	}
	bad = llmabi.NormLinear(0, []int{1, 2, 3, 1}, x, xb, []device.Span{q, k, v, x}, 2, 1e-5)
	if err := Run(r, 1<<16, w, &bad); err == nil || !strings.Contains(err.Error(), "count 4") || len(r.calls) != 0 {
		t.Errorf("norm_linear of 4 projections: %v after %q", err, r.calls)
	}
}
