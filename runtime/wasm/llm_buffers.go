package wasm

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// LLMBuffers returns where the guest's engine keeps its KV caches and the
// buffers only the device's kernels touch (activations, logits:
// llm.Engine.Buffers), as spans of the guest's memory, for the host to place
// their pages before first use (device.Placer). The guest reports them; each
// is checked to lie within its memory.
func (g *Guest) LLMBuffers(ctx context.Context) (kv device.Span, dev []device.Span, err error) {
	b, err := g.llmRange(ctx, "buffer table", "llm_buffers_ptr", "llm_buffers_len")
	if err != nil {
		return kv, nil, err
	}
	if len(b) < 8 || len(b)%8 != 0 {
		return kv, nil, fmt.Errorf("llm: guest buffer table of %d bytes, want (offset, length) pairs, the KV caches first", len(b))
	}
	size := g.Size()
	for i := 0; i < len(b); i += 8 {
		s := device.Span{Off: uint64(binary.LittleEndian.Uint32(b[i:])), Len: uint64(binary.LittleEndian.Uint32(b[i+4:]))}
		if s.End() > size {
			return kv, nil, fmt.Errorf("llm: guest buffer [%d, +%d) is outside its memory of %d bytes", s.Off, s.Len, size)
		}
		if i == 0 {
			kv = s
		} else {
			dev = append(dev, s)
		}
	}
	return kv, dev, nil
}
