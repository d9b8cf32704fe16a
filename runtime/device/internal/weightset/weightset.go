// Package weightset is what every backend's device.Weights shares: the
// list of checked tensors that Tensor serves by id, its closed state, and
// which tensors share their bytes (tied embeddings, stored once).
package weightset

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Set is a model's tensors as a backend keeps them: tensor id i is the
// i-th tensor LoadWeights got, its shape copied and its bytes referenced.
// Backends embed it in their Weights.
type Set struct {
	ts          []device.WeightTensor
	closed      bool
	deviceBytes uint64
}

// New checks each tensor as every op will (llmabi.CheckTensor), then with
// the backend's own limits (check, if not nil), and returns the set. An
// error names the backend and the tensor.
func New(backend string, ts []device.WeightTensor, check func(device.WeightTensor) error) (Set, error) {
	keep := make([]device.WeightTensor, len(ts))
	for i, t := range ts {
		err := llmabi.CheckTensor(t)
		if err == nil && check != nil {
			if err = check(t); err != nil {
				err = fmt.Errorf("%s: %w", t.Name, err)
			}
		}
		if err != nil {
			return Set{}, fmt.Errorf("%s: load weights: tensor %d: %w", backend, i, err)
		}
		t.Shape = append([]int(nil), t.Shape...)
		keep[i] = t
	}
	return Set{ts: keep}, nil
}

// Tensor returns tensor id, or false if there is none or the set is closed.
func (s *Set) Tensor(id int) (device.WeightTensor, bool) {
	if s.closed || id < 0 || id >= len(s.ts) {
		return device.WeightTensor{}, false
	}
	return s.ts[id], true
}

// Tensors are the set's tensors, by id.
func (s *Set) Tensors() []device.WeightTensor { return s.ts }

// Close marks the set closed and drops its references; it reports whether
// the set was open.
func (s *Set) Close() bool {
	was := !s.closed
	s.closed, s.ts = true, nil
	return was
}

// DeviceBytes is the device memory the backend made for the tensors
// (SetDeviceBytes; 0 once closed): device.Weights.DeviceBytes.
func (s *Set) DeviceBytes() uint64 {
	if s.closed {
		return 0
	}
	return s.deviceBytes
}

// SetDeviceBytes records the device memory the backend made for the tensors.
func (s *Set) SetDeviceBytes(n uint64) { s.deviceBytes = n }

// Closed reports whether Close was called.
func (s *Set) Closed() bool { return s.closed }

// Owners returns, for each tensor, the id of the first tensor with the very
// same bytes (tied embeddings), its own id if there is none: a backend that
// copies the weights copies each owner once.
func (s *Set) Owners() []int {
	type key struct {
		p uintptr
		n int
	}
	seen := map[key]int{}
	owners := make([]int, len(s.ts))
	for i, t := range s.ts {
		k := key{uintptr(unsafe.Pointer(unsafe.SliceData(t.Data))), len(t.Data)}
		if j, ok := seen[k]; ok {
			owners[i] = j
			continue
		}
		seen[k], owners[i] = i, i
	}
	return owners
}
