package cuda

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/weightset"
)

// The cuda device as an LLMDevice: LoadWeights copies every tensor once into
// one device allocation, shared read-only by every Memory (guest) that runs
// the model; the ops in llm_ops.go read them from there and the activations
// and KV cache from the guest's linear memory, in the Memory's mode.

// weightAlign is the alignment of each tensor in the weights allocation:
// enough for the kernels' 16-byte vector loads and cuBLAS's preferred 256.
const weightAlign = 256

// Weights are a model's tensors in device memory, loaded by one Device.
// Tensor ids index the slice LoadWeights was given. Safe for concurrent use
// by many Memories; Close must come after their last op.
type Weights struct {
	weightset.Set // shapes, dtypes and the caller's bytes (kept for the checks)
	d             *Device
	ptrs          []uint64 // device address of each tensor
	base          uint64   // the one allocation
	size          uint64
}

// LoadWeights checks each tensor, then copies them all into one device
// allocation (each tensor 256-byte aligned, in its own dtype; tensors that
// share their bytes, like tied embeddings, are stored once) and waits for
// the copies. It fails, naming the first tensor that does not fit, if the
// weights would leave less than 256 MiB of the card free. Tensor id i is
// ts[i]; the caller's bytes must stay unchanged until Close (the op checks
// read their length).
func (d *Device) LoadWeights(ts []device.WeightTensor) (device.Weights, error) {
	set, err := weightset.New("cuda", ts, fitsOneAllocation)
	if err != nil {
		return nil, err
	}
	w := &Weights{Set: set, d: d, ptrs: make([]uint64, len(ts))}
	offs := make([]uint64, len(ts))
	owners := w.Owners()
	var total uint64
	for i, t := range w.Tensors() {
		if j := owners[i]; j != i {
			offs[i] = offs[j]
			continue
		}
		offs[i] = total
		total = (total + uint64(len(t.Data)) + weightAlign - 1) &^ (weightAlign - 1)
	}
	if total == 0 {
		return w, nil
	}
	if err := d.enter(); err != nil {
		return nil, fmt.Errorf("cuda: load weights: %w", err)
	}
	defer d.leave()
	free, _, err := d.memInfo()
	if err != nil {
		return nil, fmt.Errorf("cuda: load weights: %w", err)
	}
	if total > free || free-total < managedReserve {
		for i, t := range w.Tensors() {
			if end := offs[i] + uint64(len(t.Data)); end > free || free-end < managedReserve {
				return nil, fmt.Errorf("cuda: load weights: tensor %d (%s) does not fit: the weights need %d bytes, the device has %d free (keeping %d free)", i, t.Name, total, free, managedReserve)
			}
		}
	}
	if err := d.drv.check("cuMemAlloc", call(d.drv.cuMemAlloc, uintptr(unsafe.Pointer(&w.base)), uintptr(total))); err != nil {
		return nil, fmt.Errorf("cuda: load weights of %d bytes: %w", total, err)
	}
	w.size = total
	w.SetDeviceBytes(total)
	d.liveDevice.Add(int64(total))
	for i, t := range w.Tensors() {
		w.ptrs[i] = w.base + offs[i]
		if owners[i] != i {
			continue
		}
		// Stream 0 is the context's legacy stream; the sync below waits for it.
		if err := d.drv.check("cuMemcpyHtoDAsync", call(d.drv.cuMemcpyHtoDAsync, uintptr(w.ptrs[i]), uintptr(unsafe.Pointer(&t.Data[0])), uintptr(len(t.Data)), 0)); err != nil {
			w.release()
			return nil, fmt.Errorf("cuda: load weights: tensor %d (%s): %w", i, t.Name, err)
		}
	}
	if err := d.drv.check("cuCtxSynchronize", call(d.drv.cuCtxSynchronize)); err != nil {
		w.release()
		return nil, fmt.Errorf("cuda: load weights: %w", err)
	}
	return w, nil
}

// fitsOneAllocation refuses a tensor too large to be a sensible part of
// the one device allocation.
func fitsOneAllocation(t device.WeightTensor) error {
	if len(t.Data) > 1<<40 {
		return fmt.Errorf("shape %v is too large", t.Shape)
	}
	return nil
}

var (
	_ device.Weights   = (*Weights)(nil)
	_ device.LLMDevice = (*Device)(nil)
	_ device.LLMOps    = (*Memory)(nil)
)

// Close frees the device copy. Memories must have synced their last op
// using the weights first. Closing twice is a no-op.
func (w *Weights) Close() error {
	if !w.Set.Close() || w.base == 0 {
		return nil
	}
	if err := w.d.enter(); err != nil {
		return fmt.Errorf("cuda: close weights: %w", err)
	}
	defer w.d.leave()
	if err := w.release(); err != nil {
		return fmt.Errorf("cuda: close weights: %w", err)
	}
	return nil
}

// release frees the allocation; the context must be current.
func (w *Weights) release() error {
	err := w.d.drv.check("cuMemFree", call(w.d.drv.cuMemFree, uintptr(w.base)))
	w.d.liveDevice.Add(-int64(w.size))
	w.base, w.size = 0, 0
	w.Set.Close()
	return err
}
