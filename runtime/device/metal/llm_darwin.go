//go:build darwin

package metal

import (
	"fmt"
	"unsafe"

	"github.com/ebitengine/purego/objc"

	"github.com/wasmgpu/wasmgpu/kernels"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/weightset"
)

// The metal device as an LLMDevice. LoadWeights copies each tensor once
// into its own MTLBuffer (newBufferWithBytes:length:options:, storage mode
// shared), shared read-only by every Memory (guest) that runs the model.
//
// Why a copy and not newBufferWithBytesNoCopy over the caller's bytes: a
// no-copy buffer needs a page-aligned pointer (16 KiB on Apple Silicon) and
// a page-multiple length. safetensors places tensors back to back after a
// JSON header, so per tensor that almost never holds for a mapped
// model.safetensors, and synthetic weights in the Go heap would qualify by
// chance, making memory use differ from run to run. The copy costs the
// weights' size once more in unified memory (Llama 3.2 1B bf16: 2.47 GB),
// next to the caller's bytes (for a mapped file, page cache the OS can
// drop). DeviceBytes reports it. A single no-copy buffer over the whole
// page-aligned mapping, tensors as offsets, would remove it; it needs
// package models to hand out the mapping.

// maxTensorElems bounds a tensor's elements: the kernels index with uint.
const maxTensorElems = 1<<32 - 1

// indexable refuses a tensor with more elements than the kernels index.
func indexable(t device.WeightTensor) error {
	if elems := len(t.Data) / device.WeightDTypeSize(t.DType); elems > maxTensorElems {
		return fmt.Errorf("shape %v has more than 2^32-1 elements (the kernels index with 32 bits)", t.Shape)
	}
	return nil
}

// Weights are a model's tensors in shared MTLBuffers made by one Device.
// Tensor ids index the slice LoadWeights was given. Ops of many Memories
// may read them; Close must come after their last Sync, and before the
// Device's Close.
type Weights struct {
	weightset.Set // shapes, dtypes and the caller's bytes (for the checks)
	d             *Device
	bufs          []objc.ID // buffer of each tensor; tensors sharing bytes share one
	owned         []objc.ID // each buffer once, released by Close
	size          uint64
}

var (
	_ device.Weights   = (*Weights)(nil)
	_ device.LLMDevice = (*Device)(nil)
	_ device.LLMOps    = (*Memory)(nil)
)

// LoadWeights checks each tensor, compiles the LLM kernels (first call
// only), and copies every tensor into its own shared MTLBuffer. Tensors
// whose bytes are the same slice (tied embeddings) share one buffer. Tensor
// id i is ts[i]; the caller's bytes must stay unchanged until Close (the
// op checks read their length).
func (d *Device) LoadWeights(ts []device.WeightTensor) (device.Weights, error) {
	set, err := weightset.New("metal", ts, indexable)
	if err != nil {
		return nil, err
	}
	w := &Weights{Set: set, d: d, bufs: make([]objc.ID, len(ts))}
	err = d.w.do(func() error {
		if err := d.llmPipelines(); err != nil {
			return err
		}
		owners := w.Owners()
		for i, t := range w.Tensors() {
			if j := owners[i]; j != i {
				w.bufs[i] = w.bufs[j]
				continue
			}
			n := uint64(len(t.Data))
			if n > d.maxBuffer {
				w.releaseBuffers()
				return fmt.Errorf("tensor %d (%s) of %d bytes exceeds the device's maxBufferLength of %d", i, t.Name, n, d.maxBuffer)
			}
			// newBufferWithBytes copies during the call: Go memory is only
			// read while the call runs.
			b := llmMsg.newBufferWithBytes(d.dev, llmSel.newBufferWithBytes, unsafe.Pointer(&t.Data[0]), uint(n), mtlStorageShared)
			if b == 0 {
				w.releaseBuffers()
				return fmt.Errorf("tensor %d (%s): newBufferWithBytes:length:options: returned nil for %d bytes (out of memory?)", i, t.Name, n)
			}
			w.bufs[i] = b
			w.owned = append(w.owned, b)
			w.size += n
		}
		w.SetDeviceBytes(w.size) // the MTLBuffers' bytes, shared tensors once
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("metal: load weights: %w", err)
	}
	return w, nil
}

// Close releases the buffers. Memories must have synced their last op using
// the weights (a command buffer still queued keeps the buffers it uses alive
// until it completes, so an early Close is not a use-after-free, but ops
// after Close fail). Closing twice is a no-op.
func (w *Weights) Close() error {
	if !w.Set.Close() {
		return nil
	}
	if err := w.d.w.do(func() error { w.releaseBuffers(); return nil }); err != nil {
		return fmt.Errorf("metal: close weights: %w", err)
	}
	return nil
}

// releaseBuffers releases every owned buffer; it runs on the Metal thread.
func (w *Weights) releaseBuffers() {
	for _, b := range w.owned {
		release(b)
	}
	w.owned, w.size = nil, 0
	clear(w.bufs)
}

// llmPipelines compiles kernels.MetalLLMSource into a library of its own,
// with fast math off (the kernels rely on IEEE infinities and NaN
// comparisons; MLX does the same), and builds one pipeline per
// kernels.MetalLLMKernels entry into d.pipes, where releaseAll finds them.
// The library is released once its pipelines exist. It runs on the Metal
// thread; after the first success it only looks the first kernel up.
func (d *Device) llmPipelines() error {
	if _, ok := d.pipes[kernels.MetalLLMKernels[0]]; ok {
		return nil
	}
	if err := loadLLMRuntime(); err != nil {
		return err
	}
	src, err := kernels.MetalLLMSource()
	if err != nil {
		return fmt.Errorf("metal: %w", err)
	}
	lib, err := d.newLibrary(kernels.MetalLLMFile, src, false)
	if err != nil {
		return err
	}
	defer release(lib)
	made := make([]pipeline, 0, len(kernels.MetalLLMKernels))
	undo := func() {
		for _, p := range made {
			release(p.pso)
			delete(d.pipes, p.name)
		}
	}
	for _, name := range kernels.MetalLLMKernels {
		p, err := d.newPipeline(lib, name)
		if err != nil {
			undo()
			return err
		}
		made = append(made, p)
		d.pipes[name] = p
		if p.simdWidth != simdWidth {
			undo()
			return fmt.Errorf("metal: kernel %s runs %d-wide SIMD groups; the LLM kernels are written for %d (Apple GPUs)", name, p.simdWidth, simdWidth)
		}
	}
	return nil
}
