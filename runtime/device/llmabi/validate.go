package llmabi

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// Validate checks c as the host does before it dispatches a guest's call and
// every backend does before it touches memory:
//
//   - the group count, and each scalar's range (counts and dimensions in
//     [1, 2^31), positions in [0, 2^31), eps a non-negative number, a known
//     KV dtype);
//   - each weight tensor: bound, its rank, dtype and byte size, and the
//     dimensions its shape shares with other weights and scalars;
//   - each operand: inside memory of size bytes, 4-byte aligned, and
//     exactly as long as its shape says (a KV cache: a whole number of rows);
//   - the op's rules (optable.Op.Rules);
//   - no operand the op writes overlapping another, but for the exact alias
//     the table allows.
//
// Sizes are multiplied in 64 bits with overflow checks, so a hostile shape
// cannot wrap into a small in-bounds size. Validate reads no memory: data
// (Embed's token ids) is the kernel's to check. The error names the op and
// the argument. It does not allocate unless it fails.
func (c *Call) Validate(size uint64, w device.Weights) error {
	l := c.Op.Layout()
	if l == nil {
		return fmt.Errorf("%s is not in the op table", c.Op)
	}
	var sym [maxSyms]uint64
	active := maxSlots
	if l.Group > 0 {
		if err := c.group(l.Group); err != nil {
			return err
		}
		active = c.Count
	}
	for k := range l.Ints {
		s := &l.Ints[k] // a pointer: ranging over values would copy each slot
		lo := 1
		if s.Kind == optable.Index {
			lo = 0
		}
		if v := c.I[k]; v < lo || v > 1<<31-1 {
			return c.errorf("%s %d is not in [%d, 2^31)", s.Name, v, lo)
		}
		sym[s.Sym] = uint64(c.I[k])
	}
	if l.F32 != "" && !(c.F >= 0) {
		return c.errorf("%s %v is not a non-negative number", l.F32, c.F)
	}
	var kvSize uint64
	if l.DType != "" {
		if kvSize = uint64(c.KV.Size()); kvSize == 0 {
			return c.errorf("KV dtype %q is not f32, bf16 or f16", c.KV)
		}
	}
	for i := range l.Weights {
		ws := &l.Weights[i]
		if ws.Slot >= active {
			continue
		}
		if err := c.weight(l, i, w, sym[:]); err != nil {
			return err
		}
	}
	if err := c.rules(l, w, sym[:], false); err != nil {
		return err
	}
	for i := range l.Operands {
		o := &l.Operands[i]
		if o.Slot >= active {
			continue
		}
		if err := c.operand(l, i, size, kvSize, sym[:]); err != nil {
			return err
		}
	}
	if err := c.rules(l, w, sym[:], true); err != nil {
		return err
	}
	return c.overlaps(l, active)
}

// maxSlots is "every slot" for an op without a group.
const maxSlots = 1 << 30

func (c *Call) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s", c.Op, fmt.Sprintf(format, args...))
}

// weight looks up weight i, checks it, and binds or checks its dimensions.
func (c *Call) weight(l *optable.Layout, i int, w device.Weights, sym []uint64) error {
	ws := &l.Weights[i]
	id := c.W[i]
	if w == nil {
		return c.errorf("%s: no weights bound", ws.Name)
	}
	t, ok := w.Tensor(id)
	if !ok {
		return c.errorf("%s: no weight tensor %d", ws.Name, id)
	}
	if err := CheckTensor(t); err != nil {
		return c.errorf("%s: tensor %d: %v", ws.Name, id, err)
	}
	match := len(t.Shape) == len(ws.Dims)
	for d := 0; match && d < len(ws.Dims); d++ {
		if !ws.Bind[d] && sym[ws.Dims[d]] != uint64(t.Shape[d]) {
			match = false
		}
	}
	if !match {
		return c.errorf("%s: tensor %d (%s) has shape %v, want [%s]", ws.Name, id, t.Name, t.Shape, shapeText(l, ws.Dims, ws.Bind, sym))
	}
	for d, s := range ws.Dims {
		sym[s] = uint64(t.Shape[d])
	}
	return nil
}

// shapeText spells a weight's expected shape: "rows, dim=2048".
func shapeText(l *optable.Layout, dims []int, bind []bool, sym []uint64) string {
	var b strings.Builder
	for d, s := range dims {
		if d > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Syms[s].Name)
		if !bind[d] {
			fmt.Fprintf(&b, "=%d", sym[s])
		}
	}
	return b.String()
}

// operand checks operand i's bounds, alignment and length, and reads an
// inferred first dimension from its length; kvSize is the call's KV
// element size.
func (c *Call) operand(l *optable.Layout, i int, size, kvSize uint64, sym []uint64) error {
	o := &l.Operands[i]
	s := c.S[i]
	if end := s.Off + s.Len; end < s.Off || end > size {
		return c.errorf("%s [%d, +%d) is outside memory of %d bytes", o.Name, s.Off, s.Len, size)
	}
	if s.Off%4 != 0 {
		return c.errorf("%s offset %d is not 4-byte aligned", o.Name, s.Off)
	}
	// The bytes of one row: every dimension but an inferred first one.
	row, hi := uint64(4), uint64(0)
	if o.Elem == optable.KV {
		row = kvSize
	}
	first := 0
	if o.Infer {
		first = 1
	}
	for _, d := range o.Dims[first:] {
		v := sym[d.Sym]
		if d.Div > 1 {
			v /= d.Div
		}
		if v == 0 {
			return c.errorf("%s: dimension %s/%d of %s is 0", o.Name, l.Syms[d.Sym].Name, d.Div, o.Name)
		}
		var h uint64
		h, row = bits.Mul64(row, v)
		hi |= h
	}
	switch {
	case hi != 0:
		return c.errorf("%s: shape %s overflows", o.Name, c.shape(l, o, sym))
	case o.Infer:
		if s.Len == 0 || s.Len%row != 0 {
			return c.errorf("%s is %d bytes, not a whole number of %d-byte rows of %s", o.Name, s.Len, row, c.shape(l, o, sym))
		}
		sym[o.Dims[0].Sym] = s.Len / row
	case s.Len != row:
		return c.errorf("%s is %d bytes, want %d for %s", o.Name, s.Len, row, c.shape(l, o, sym))
	}
	return nil
}

// shape spells an operand's shape with its values: "f32[n=2, dim=64]".
func (c *Call) shape(l *optable.Layout, o *optable.OperandSlot, sym []uint64) string {
	var b strings.Builder
	if o.Elem == optable.KV {
		b.WriteString(string(c.KV))
	} else {
		b.WriteString(o.Elem.String())
	}
	b.WriteByte('[')
	for i, d := range o.Dims {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Syms[d.Sym].Name)
		if d.Div > 1 {
			fmt.Fprintf(&b, "/%d", d.Div)
		}
		if !(i == 0 && o.Infer) {
			fmt.Fprintf(&b, "=%d", sym[d.Sym]/d.Div)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// rules checks the op's rules: those that read an operand's length (late)
// or the others.
func (c *Call) rules(l *optable.Layout, w device.Weights, sym []uint64, late bool) error {
	for i := range l.Rules {
		r := &l.Rules[i]
		if r.Late != late {
			continue
		}
		switch r.Kind {
		case optable.Divides:
			b := r.Const
			if r.B >= 0 {
				b = sym[r.B]
			}
			if b == 0 || sym[r.A]%b != 0 { // b is 0 only for a position (an Index scalar)
				bn := fmt.Sprint(r.Const)
				if r.B >= 0 {
					bn = l.Syms[r.B].Name
				}
				return c.errorf("%s %d is not a multiple of %s (%s)", l.Syms[r.A].Name, sym[r.A], bn, r.Text)
			}
		case optable.AtLeast:
			if a, sum := sym[r.A], sym[r.B]+sym[r.C]; a < sum {
				return c.errorf("%s + %s = %d is beyond %s = %d (%s)", l.Syms[r.B].Name, l.Syms[r.C].Name, sum, c.origin(l, r.A), a, r.Text)
			}
		case optable.SameDType:
			if a, b := c.Tensor(w, r.A).DType, c.Tensor(w, r.B).DType; a != b {
				return c.errorf("%s is %s and %s is %s: want one dtype (%s)", l.Weights[r.A].Name, a, l.Weights[r.B].Name, b, r.Text)
			}
		}
	}
	return nil
}

// origin names where symbol s comes from: "kCache's rows" for an inferred one.
func (c *Call) origin(l *optable.Layout, s int) string {
	for _, o := range l.Operands {
		if o.Infer && o.Dims[0].Sym == s {
			return o.Name + "'s rows"
		}
	}
	return l.Syms[s].Name
}

// overlaps fails if an operand the op writes shares a byte with another
// operand, unless the table lets it equal that one exactly.
func (c *Call) overlaps(l *optable.Layout, active int) error {
	for i := range l.Operands {
		a := &l.Operands[i]
		if a.Slot >= active {
			continue
		}
		for j := range i {
			b := &l.Operands[j]
			if b.Slot >= active || !a.Role.Writes() && !b.Role.Writes() || !c.S[i].Overlaps(c.S[j]) {
				continue
			}
			if (a.Alias == j || b.Alias == i) && c.S[i] == c.S[j] {
				continue
			}
			x, y, xs, ys := a.Name, b.Name, c.S[i], c.S[j]
			if !a.Role.Writes() {
				x, y, xs, ys = y, x, ys, xs
			}
			return c.errorf("%s [%d, +%d) overlaps %s [%d, +%d)", x, xs.Off, xs.Len, y, ys.Off, ys.Len)
		}
	}
	return nil
}

// CheckTensor checks a weight tensor as every op and every LoadWeights
// does: a known dtype, a shape of positive dimensions below 2^31, and
// exactly the bytes they make.
func CheckTensor(t device.WeightTensor) error {
	esize := device.WeightDTypeSize(t.DType)
	if esize == 0 {
		return fmt.Errorf("%s: dtype %q is not BF16, F16 or F32", t.Name, t.DType)
	}
	if len(t.Shape) == 0 {
		return fmt.Errorf("%s: shape %v has no dimensions", t.Name, t.Shape)
	}
	total := uint64(esize)
	for _, d := range t.Shape {
		if d <= 0 || d > 1<<31-1 {
			return fmt.Errorf("%s: bad shape %v", t.Name, t.Shape)
		}
		hi, lo := bits.Mul64(total, uint64(d))
		if hi != 0 {
			return fmt.Errorf("%s: shape %v overflows", t.Name, t.Shape)
		}
		total = lo
	}
	if uint64(len(t.Data)) != total {
		return fmt.Errorf("%s: %s %v holds %d bytes, want %d", t.Name, t.DType, t.Shape, len(t.Data), total)
	}
	return nil
}

// Check validates c on memory of size bytes with the weights w (nil for an
// op that reads none): the one-line form a backend's method starts with.
func Check(size uint64, w device.Weights, c Call) error { return c.Validate(size, w) }

// Checked validates c like Check and returns its first weight tensor, the
// one a basic op (embed, rmsnorm, linear) reads.
func Checked(size uint64, w device.Weights, c Call) (device.WeightTensor, error) {
	if err := c.Validate(size, w); err != nil {
		return device.WeightTensor{}, err
	}
	return c.Tensor(w, 0), nil
}
