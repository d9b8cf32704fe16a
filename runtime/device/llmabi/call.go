package llmabi

import (
	"fmt"
	"math"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// Call is one call of an op. Its arrays hold the op's arguments in the
// order of its compiled layout (optable.Layout): weights in W, operands in
// S, integer scalars in I, with a repeated group's slots in place
// (norm_linear: W = norm, weights[0..2]; S = x, xb, outs[0..2]). The
// constructors (Embed, NormLinear, …) build one from a method's arguments;
// Decode from a guest's.
type Call struct {
	Op    Op
	Count int                      // the repeated group's length, 0 for an op without one
	W     [MaxWeights]int          // weight tensor ids
	S     [MaxOperands]device.Span // operands
	I     [MaxInts]int             // the Count and Index scalars
	F     float32                  // the f32 scalar (eps)
	KV    device.KVDType           // the KV cache dtype
	// skew is the group's operands minus its weights when a native caller
	// passed slices of different lengths (a decoded call has one count).
	skew int
}

// group checks c's group count against the op's slots (max) before
// Dispatch slices the group out of the arrays.
func (c *Call) group(max int) error {
	if c.skew != 0 {
		return fmt.Errorf("%s: %d weights and %d operands in the group, want as many of each", c.Op, c.Count, c.Count+c.skew)
	}
	if c.Count < 1 || c.Count > max {
		return fmt.Errorf("%s: count %d is not in [1, %d]", c.Op, c.Count, max)
	}
	return nil
}

// Decode reads the wire arguments of op (the host function's parameters, or
// a recorded call's words after its code) into c, replacing what it held.
// It checks only what a Call cannot hold: the number of words and the KV
// dtype code; Validate checks the rest.
func Decode[W uint32 | uint64](op Op, words []W, c *Call) error {
	*c = Call{Op: op}
	l := op.Layout()
	if l == nil {
		return fmt.Errorf("%s is not in the op table", op)
	}
	if len(words) != len(l.Wire) {
		return fmt.Errorf("%s: %d argument words, want %d", op, len(words), len(l.Wire))
	}
	// The wire order (optable's wire): weights, the group's count before
	// its first repeated one; each operand's (ptr, len); the scalars. An
	// i32 or f32 on the Wasm stack sits in the low 32 bits of its word.
	i := 0
	for k := range l.Weights {
		if l.Wire[i].Kind == optable.PCount {
			c.Count = int(uint32(words[i]))
			i++
		}
		c.W[k] = int(int32(uint32(words[i])))
		i++
	}
	for k := range l.Operands {
		c.S[k] = device.Span{Off: uint64(uint32(words[i])), Len: uint64(uint32(words[i+1]))}
		i += 2
	}
	for k := 0; i < len(words); i++ {
		v := uint32(words[i])
		switch l.Wire[i].Kind {
		case optable.PInt:
			c.I[k] = int(v)
			k++
		case optable.PF32:
			c.F = math.Float32frombits(v)
		case optable.PDType:
			kv, ok := device.KVDTypeOf(v)
			if !ok {
				return fmt.Errorf("%s: KV dtype code %d is not 0 (f32), 1 (bf16) or 2 (f16)", op, v)
			}
			c.KV = kv
		}
	}
	return nil
}

// Tensor is weight i of c (c.W[i]) in w, for a backend's method after
// Validate has checked it.
func (c *Call) Tensor(w device.Weights, i int) device.WeightTensor {
	t, _ := w.Tensor(c.W[i])
	return t
}

// HostWeights serves tensors from host memory as given, unchecked until an
// op validates them: weights no device loaded, for tests and callers
// without a device. A backend that keeps its own copy of the weights
// refuses them.
type HostWeights []device.WeightTensor

// Tensor returns tensor id, or false if there is none.
func (h HostWeights) Tensor(id int) (device.WeightTensor, bool) {
	if id < 0 || id >= len(h) {
		return device.WeightTensor{}, false
	}
	return h[id], true
}

// DeviceBytes is 0: the tensors stay in host memory.
func (h HostWeights) DeviceBytes() uint64 { return 0 }

// Close does nothing: the caller owns the bytes.
func (h HostWeights) Close() error { return nil }
