package llm

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// NewNative makes an engine that runs on the host, with no Wasm: its
// buffers are bump-allocated in mem (growing it with Grow, from offset 64 on:
// the engine owns mem) and its kernels are mem's device.LLMOps with the
// weights w. It is the native control for the Wasm guest: the same engine,
// the same kernels, the same memory layout, driven by host Go.
func NewNative(cfg models.Config, mem device.Memory, w device.Weights, opt Options) (*Engine, error) {
	ops, ok := mem.(device.LLMOps)
	if !ok {
		return nil, fmt.Errorf("llm native: %T does not implement device.LLMOps", mem)
	}
	b := &bump{mem: mem, top: 64}
	return New(cfg, DeviceKernels{Ops: ops, Weights: w}, b.alloc, opt)
}

// bump hands out consecutive 64-byte aligned ranges of a device Memory.
type bump struct {
	mem device.Memory
	top uint64
}

func (b *bump) alloc(size uint32) (Buf, []byte, error) {
	off := (b.top + 63) &^ 63
	end := off + uint64(size)
	if end > 1<<32 {
		return Buf{}, nil, fmt.Errorf("native memory: %d bytes exceed 4 GiB", end)
	}
	if end > b.mem.Size() {
		grow := (end + 65535) &^ 65535
		if err := b.mem.Grow(grow); err != nil {
			return Buf{}, nil, fmt.Errorf("native memory: %w", err)
		}
	}
	b.top = end
	view := b.mem.Bytes()[off:end:end]
	clear(view)
	return Buf{Off: uint32(off), Len: size}, view, nil
}

// DeviceKernels are Kernels over a device Memory's LLMOps with one set of
// weights: what the Wasm host does for a guest, minus the guest.
type DeviceKernels struct {
	Ops     device.LLMOps
	Weights device.Weights
}

func span(b Buf) device.Span { return device.Span{Off: uint64(b.Off), Len: uint64(b.Len)} }

// Embed calls the device's Embed.
func (d DeviceKernels) Embed(table int, tokens, out Buf, n int) error {
	return d.Ops.Embed(d.Weights, table, span(tokens), span(out), n)
}

// RMSNorm calls the device's RMSNorm.
func (d DeviceKernels) RMSNorm(weight int, x, out Buf, n int, eps float32) error {
	return d.Ops.RMSNorm(d.Weights, weight, span(x), span(out), n, eps)
}

// Linear calls the device's Linear.
func (d DeviceKernels) Linear(weight int, x, out Buf, n int) error {
	return d.Ops.Linear(d.Weights, weight, span(x), span(out), n)
}

// RoPE calls the device's RoPE.
func (d DeviceKernels) RoPE(x, invFreq Buf, n, heads, headDim, pos int) error {
	return d.Ops.RoPE(span(x), span(invFreq), n, heads, headDim, pos)
}

// KVStore calls the device's KVStore.
func (d DeviceKernels) KVStore(src, cache Buf, dt device.KVDType, n, pos, width int) error {
	return d.Ops.KVStore(span(src), span(cache), dt, n, pos, width)
}

// Attention calls the device's Attention.
func (d DeviceKernels) Attention(q, kCache, vCache, out Buf, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return d.Ops.Attention(span(q), span(kCache), span(vCache), span(out), dt, n, pos, heads, kvHeads, headDim)
}

// SwiGLU calls the device's SwiGLU.
func (d DeviceKernels) SwiGLU(gate, up, out Buf, count int) error {
	return d.Ops.SwiGLU(span(gate), span(up), span(out), count)
}

// Add calls the device's Add.
func (d DeviceKernels) Add(x, y Buf, count int) error {
	return d.Ops.Add(span(x), span(y), count)
}

// Argmax calls the device's Argmax.
func (d DeviceKernels) Argmax(x, out Buf, n, width int) error {
	return d.Ops.Argmax(span(x), span(out), n, width)
}

// Sync calls the device's Sync.
func (d DeviceKernels) Sync() error { return d.Ops.Sync() }

// NormLinear calls the device's NormLinear.
func (d DeviceKernels) NormLinear(norm int, weights []int, x, xb Buf, outs []Buf, n int, eps float32) error {
	var spans [device.NormLinearMax]device.Span
	if len(outs) > len(spans) {
		return fmt.Errorf("norm_linear: %d outputs, at most %d", len(outs), len(spans))
	}
	for i, o := range outs {
		spans[i] = span(o)
	}
	return d.Ops.NormLinear(d.Weights, norm, weights, span(x), span(xb), spans[:len(outs)], n, eps)
}

// NormGLU calls the device's NormGLU.
func (d DeviceKernels) NormGLU(norm, gate, up int, x, xb, tmp, out Buf, n int, eps float32) error {
	return d.Ops.NormGLU(d.Weights, norm, gate, up, span(x), span(xb), span(tmp), span(out), n, eps)
}

// LinearAdd calls the device's LinearAdd.
func (d DeviceKernels) LinearAdd(weight int, x, tmp, resid Buf, n int) error {
	return d.Ops.LinearAdd(d.Weights, weight, span(x), span(tmp), span(resid), n)
}

// RoPEKV calls the device's RoPEKV.
func (d DeviceKernels) RoPEKV(q, k, v, invFreq, kCache, vCache Buf, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	return d.Ops.RoPEKV(span(q), span(k), span(v), span(invFreq), span(kCache), span(vCache), dt, n, pos, heads, kvHeads, headDim)
}
