package device

import (
	"fmt"
	"math/bits"
)

// This file is the validation every backend runs at the top of each LLMOps
// method, so that all backends refuse the same bad calls with the same words.
// A Check function returns nil or an error that names the op and the operand;
// it reads no memory and trusts none of its arguments: sizes are multiplied
// in 64-bit arithmetic with overflow detection, so a hostile shape cannot
// wrap a product into a small, in-bounds size.
//
// What a Check cannot see is data: Embed's token ids live in memory, so the
// kernel checks each one against the table's rows as it reads it.

// CheckEmbed validates Embed(w, table, tokens, out, n) on a memory of size
// bytes and returns the table tensor.
func CheckEmbed(size uint64, w Weights, table int, tokens, out Span, n int) (WeightTensor, error) {
	c := llmCheck{op: "embed", size: size}
	t := c.tensor(w, "table", table, 2)
	c.positive("n", n)
	if c.err == nil {
		c.span("tokens", tokens, 4, n)
		c.span("out", out, 4, n, t.Shape[1])
		c.disjoint("out", out, "tokens", tokens)
	}
	return t, c.err
}

// CheckRMSNorm validates RMSNorm(w, weight, x, out, n, eps) and returns the
// weight tensor. out may equal x exactly (in place) but not partly overlap it.
func CheckRMSNorm(size uint64, w Weights, weight int, x, out Span, n int, eps float32) (WeightTensor, error) {
	c := llmCheck{op: "rmsnorm", size: size}
	t := c.tensor(w, "weight", weight, 1)
	c.positive("n", n)
	if c.err == nil && !(eps >= 0) {
		c.fail("eps %v is not a non-negative number", eps)
	}
	if c.err == nil {
		c.span("x", x, 4, n, t.Shape[0])
		c.span("out", out, 4, n, t.Shape[0])
		if out != x {
			c.disjoint("out", out, "x", x)
		}
	}
	return t, c.err
}

// CheckLinear validates Linear(w, weight, x, out, n) and returns the weight
// tensor ([outDim, in]).
func CheckLinear(size uint64, w Weights, weight int, x, out Span, n int) (WeightTensor, error) {
	c := llmCheck{op: "linear", size: size}
	t := c.tensor(w, "weight", weight, 2)
	c.positive("n", n)
	if c.err == nil {
		c.span("x", x, 4, n, t.Shape[1])
		c.span("out", out, 4, n, t.Shape[0])
		c.disjoint("out", out, "x", x)
	}
	return t, c.err
}

// CheckRoPE validates RoPE(x, invFreq, n, heads, headDim, pos). x is
// rotated in place; invFreq must not overlap it.
func CheckRoPE(size uint64, x, invFreq Span, n, heads, headDim, pos int) error {
	c := llmCheck{op: "rope", size: size}
	c.positive("n", n)
	c.positive("heads", heads)
	c.positive("headDim", headDim)
	c.nonNegative("pos", pos)
	if c.err == nil && headDim%2 != 0 {
		c.fail("headDim %d is odd (RoPE rotates pairs)", headDim)
	}
	if c.err == nil {
		c.span("x", x, 4, n, heads, headDim)
		c.span("invFreq", invFreq, 4, headDim/2)
		c.disjoint("x", x, "invFreq", invFreq)
	}
	return c.err
}

// CheckKVStore validates KVStore(src, cache, dt, n, pos, width) and returns
// the cache's rows (maxSeq), which its length states.
func CheckKVStore(size uint64, src, cache Span, dt KVDType, n, pos, width int) (maxSeq int, err error) {
	c := llmCheck{op: "kvstore", size: size}
	c.kvType(dt)
	c.positive("n", n)
	c.nonNegative("pos", pos)
	c.positive("width", width)
	if c.err == nil {
		c.span("src", src, 4, n, width)
		maxSeq = c.cache("cache", cache, dt, width, n, pos)
		c.disjoint("cache", cache, "src", src)
	}
	return maxSeq, c.err
}

// CheckAttention validates Attention(q, kCache, vCache, out, dt, n, pos,
// heads, kvHeads, headDim) and returns the caches' rows (maxSeq).
func CheckAttention(size uint64, q, kCache, vCache, out Span, dt KVDType, n, pos, heads, kvHeads, headDim int) (maxSeq int, err error) {
	c := llmCheck{op: "attention", size: size}
	c.kvType(dt)
	c.positive("n", n)
	c.nonNegative("pos", pos)
	c.positive("heads", heads)
	c.positive("kvHeads", kvHeads)
	c.positive("headDim", headDim)
	if c.err == nil && heads%kvHeads != 0 {
		c.fail("kvHeads %d does not divide heads %d", kvHeads, heads)
	}
	if c.err == nil {
		c.span("q", q, 4, n, heads, headDim)
		c.span("out", out, 4, n, heads, headDim)
	}
	var width int
	if c.err == nil {
		if w, ok := mul(uint64(kvHeads), uint64(headDim)); !ok || w > 1<<31 {
			c.fail("kvHeads×headDim %d×%d is too large", kvHeads, headDim)
		} else {
			width = int(w)
		}
	}
	if c.err == nil {
		maxSeq = c.cache("kCache", kCache, dt, width, n, pos)
	}
	if c.err == nil && vCache.Len != kCache.Len {
		c.fail("vCache is %d bytes, kCache %d: the caches must have the same rows", vCache.Len, kCache.Len)
	}
	if c.err == nil {
		c.cache("vCache", vCache, dt, width, n, pos)
		c.disjoint("out", out, "q", q)
		c.disjoint("out", out, "kCache", kCache)
		c.disjoint("out", out, "vCache", vCache)
	}
	return maxSeq, c.err
}

// CheckSwiGLU validates SwiGLU(gate, up, out, count). out may equal gate
// exactly but must not overlap up.
func CheckSwiGLU(size uint64, gate, up, out Span, count int) error {
	c := llmCheck{op: "swiglu", size: size}
	c.positive("count", count)
	if c.err == nil {
		c.span("gate", gate, 4, count)
		c.span("up", up, 4, count)
		c.span("out", out, 4, count)
		if out != gate {
			c.disjoint("out", out, "gate", gate)
		}
		c.disjoint("out", out, "up", up)
	}
	return c.err
}

// CheckAdd validates Add(x, y, count): x is read and written, y only read,
// and they must not overlap (x may not equal y either: that would be a scale
// by two, which no caller means).
func CheckAdd(size uint64, x, y Span, count int) error {
	c := llmCheck{op: "add", size: size}
	c.positive("count", count)
	if c.err == nil {
		c.span("x", x, 4, count)
		c.span("y", y, 4, count)
		c.disjoint("x", x, "y", y)
	}
	return c.err
}

// CheckArgmax validates Argmax(x, out, n, width).
func CheckArgmax(size uint64, x, out Span, n, width int) error {
	c := llmCheck{op: "argmax", size: size}
	c.positive("n", n)
	c.positive("width", width)
	if c.err == nil {
		c.span("x", x, 4, n, width)
		c.span("out", out, 4, n)
		c.disjoint("out", out, "x", x)
	}
	return c.err
}

// llmCheck accumulates the first error of one op's validation; each method
// does nothing once an error is recorded.
type llmCheck struct {
	op   string
	size uint64
	err  error
}

func (c *llmCheck) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%s: %s", c.op, fmt.Sprintf(format, args...))
	}
}

func (c *llmCheck) positive(name string, v int) {
	if c.err == nil && (v <= 0 || v > 1<<31-1) {
		c.fail("%s %d is not in [1, 2^31)", name, v)
	}
}

func (c *llmCheck) nonNegative(name string, v int) {
	if c.err == nil && (v < 0 || v > 1<<31-1) {
		c.fail("%s %d is not in [0, 2^31)", name, v)
	}
}

func (c *llmCheck) kvType(dt KVDType) {
	if c.err == nil && dt.Size() == 0 {
		c.fail("KV dtype %q is not f32, bf16 or f16", dt)
	}
}

// tensor looks up weight tensor id and checks its rank, dtype and byte size.
func (c *llmCheck) tensor(w Weights, name string, id, rank int) WeightTensor {
	if c.err != nil {
		return WeightTensor{}
	}
	if w == nil {
		c.fail("%s: no weights bound", name)
		return WeightTensor{}
	}
	t, ok := w.Tensor(id)
	if !ok {
		c.fail("%s: no weight tensor %d", name, id)
		return WeightTensor{}
	}
	if len(t.Shape) != rank {
		c.fail("%s: tensor %d (%s) has shape %v, want rank %d", name, id, t.Name, t.Shape, rank)
		return WeightTensor{}
	}
	esize := WeightDTypeSize(t.DType)
	if esize == 0 {
		c.fail("%s: tensor %d (%s) has dtype %q, want BF16, F16 or F32", name, id, t.Name, t.DType)
		return WeightTensor{}
	}
	total := uint64(esize)
	for _, d := range t.Shape {
		var ok bool
		if d <= 0 || d > 1<<31-1 {
			ok = false
		} else {
			total, ok = mul(total, uint64(d))
		}
		if !ok {
			c.fail("%s: tensor %d (%s) has bad shape %v", name, id, t.Name, t.Shape)
			return WeightTensor{}
		}
	}
	if uint64(len(t.Data)) != total {
		c.fail("%s: tensor %d (%s) %s %v holds %d bytes, want %d", name, id, t.Name, t.DType, t.Shape, len(t.Data), total)
		return WeightTensor{}
	}
	return t
}

// span checks that s lies inside memory, is 4-byte aligned and holds exactly
// the product of elem and dims bytes.
func (c *llmCheck) span(name string, s Span, elem int, dims ...int) {
	if c.err != nil {
		return
	}
	want, ok := uint64(elem), true
	for _, d := range dims {
		if want, ok = mul(want, uint64(d)); !ok {
			c.fail("%s: shape %v overflows", name, dims)
			return
		}
	}
	c.inBounds(name, s)
	if c.err == nil && s.Len != want {
		c.fail("%s is %d bytes, want %d for %v×%d bytes", name, s.Len, want, dims, elem)
	}
}

// inBounds checks that s lies inside memory and starts 4-byte aligned.
func (c *llmCheck) inBounds(name string, s Span) {
	if c.err != nil {
		return
	}
	if end := s.Off + s.Len; end < s.Off || end > c.size {
		c.fail("%s [%d, +%d) is outside memory of %d bytes", name, s.Off, s.Len, c.size)
		return
	}
	if s.Off%4 != 0 {
		c.fail("%s offset %d is not 4-byte aligned", name, s.Off)
	}
}

// cache checks a KV cache span of width-element rows of dtype dt, returns its
// rows, and checks that rows pos..pos+n-1 exist.
func (c *llmCheck) cache(name string, s Span, dt KVDType, width, n, pos int) int {
	c.inBounds(name, s)
	if c.err != nil {
		return 0
	}
	row := uint64(width) * uint64(dt.Size()) // both < 2^31: no overflow
	if s.Len == 0 || s.Len%row != 0 {
		c.fail("%s is %d bytes, not a whole number of %d-byte rows (%d × %s)", name, s.Len, row, width, dt)
		return 0
	}
	rows := s.Len / row
	if end := uint64(pos) + uint64(n); end > rows {
		c.fail("positions %d..%d are beyond %s's %d rows", pos, end-1, name, rows)
		return 0
	}
	return int(rows)
}

// disjoint fails if output span a overlaps input span b.
func (c *llmCheck) disjoint(an string, a Span, bn string, b Span) {
	if c.err == nil && a.Overlaps(b) {
		c.fail("%s [%d, +%d) overlaps %s [%d, +%d)", an, a.Off, a.Len, bn, b.Off, b.Len)
	}
}

// mul multiplies in 64 bits and reports whether the product fits.
func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// WeightDTypeSize is the element size of a weight dtype (BF16, F16, F32),
// 0 if unsupported: what every backend's LoadWeights accepts.
func WeightDTypeSize(dt string) int {
	switch dt {
	case "BF16", "F16":
		return 2
	case "F32":
		return 4
	}
	return 0
}
