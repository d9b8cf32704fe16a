package operand

import (
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// TestSame: an op in place (rmsnorm's out = x) lists one span twice; copy
// mode stages it once, copied in and back.
func TestSame(t *testing.T) {
	x, y := device.Span{Off: 0, Len: 64}, device.Span{Off: 64, Len: 64}
	ops := []Operand{In(x), In(y), Out(x), Scratch(y), InOut(device.Span{Off: 128, Len: 4})}
	same := Same(ops, nil)
	if !slices.Equal(same, []int{-1, -1, 0, 1, -1}) {
		t.Fatalf("same %v", same)
	}
	if !ops[0].In || !ops[0].Out || !ops[1].In || ops[1].Out {
		t.Fatalf("roles not merged into the first of each span: %+v", ops)
	}
}
