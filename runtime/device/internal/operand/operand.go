// Package operand is how a backend's op lists the spans it touches, so
// that its memory mode can reach them: in place, mapped, or staged through
// copies (inputs copied in, outputs copied back, scratch neither).
package operand

import "github.com/wasmgpu/wasmgpu/runtime/device"

// Operand is one span an op touches.
type Operand struct {
	S       device.Span
	In, Out bool // read by the op, written by it
}

// In is a span the op reads.
func In(s device.Span) Operand { return Operand{S: s, In: true} }

// Out is a span the op writes.
func Out(s device.Span) Operand { return Operand{S: s, Out: true} }

// InOut is a span the op reads and writes in place.
func InOut(s device.Span) Operand { return Operand{S: s, In: true, Out: true} }

// Scratch is working space: staged in copy mode, but neither copied in nor
// back.
func Scratch(s device.Span) Operand { return Operand{S: s} }

// Same returns, for each operand, the index of an earlier one with the
// very same span (an op in place), or -1; the earlier one takes on the
// later one's roles, so that a copy stages the span once.
func Same(ops []Operand, same []int) []int {
	same = same[:0]
	for i := range ops {
		s := -1
		for j := range i {
			if same[j] < 0 && ops[j].S == ops[i].S {
				s = j
				ops[j].In = ops[j].In || ops[i].In
				ops[j].Out = ops[j].Out || ops[i].Out
				break
			}
		}
		same = append(same, s)
	}
	return same
}
