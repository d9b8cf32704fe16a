package cuda

import (
	"fmt"
	"math"
	"os"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/internal/operand"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi"
)

// Attention's kernels (kernels/attention.cu) and how a call picks one:
//
//   - attn_prefill (tensor cores) for passes of at least attnPrefillMinRows
//     tokens with bf16 or f16 caches and headDim 64: one block per 64 query
//     rows and head, no splits;
//   - attn_decode for other passes with bf16 or f16 caches, headDim 64 or
//     128 and at most 8 query heads per KV head: flash-decoding, block per
//     (split, KV head, token);
//   - attention (CUDA cores) for everything else (f32 caches, other head
//     sizes, unaligned operands): block per (split, 4 query heads, token).
//
// The split kernels take the context in `splits` chunks. The count comes
// from the cache's rows (its capacity), never from the position, and the
// kernels compute the chunk length from the position on the device: so one
// launch, recorded once into a CUDA graph, serves every position
// (program.go), and a per-op call runs exactly the launches a program
// does, with the same results bit for bit.

// attnPrefillMinRows is the fewest tokens a pass has for attention to run
// on tensor cores: a block takes 64 query rows, and below 16 the decode
// kernel's splits fill the card better.
const attnPrefillMinRows = 16

// The attention kernels a call may pick, each of which a variable can turn
// off without a rebuild, so that a GPU session can tell a wrong kernel from
// a wrong caller at once: WASMGPU_CUDA_ATTN_PREFILL=0 sends prefill passes
// to attn_decode, WASMGPU_CUDA_ATTN_DECODE=0 sends what attn_decode would
// take to the generic kernel.
var (
	attnPrefillOn = os.Getenv("WASMGPU_CUDA_ATTN_PREFILL") != "0"
	attnDecodeOn  = os.Getenv("WASMGPU_CUDA_ATTN_DECODE") != "0"
)

// attentionMinChunk is the fewest cache rows a split of the generic kernel
// takes (a multiple of 32, the keys a warp scores at once): two batches
// per warp. A package variable so that the benchmark can compare.
var attentionMinChunk = 64

// maxAttentionSplits bounds the splits of one call (and so the partial
// results it keeps: n·heads·splits·(headDim+2) floats).
const maxAttentionSplits = 256

// attnKind is which attention kernel a call runs.
type attnKind int

const (
	attnGeneric attnKind = iota
	attnDecode
	attnPrefill
)

// attnPlan is one call's kernel and launch shape.
type attnPlan struct {
	kind            attnKind
	splits          int    // chunks of the context (1 for attn_prefill)
	align, minChunk int    // attn_chunk's arguments for the split kernels
	grid, block     Dim3   // the attention kernel's launch
	shmem           uint32 // its dynamic shared memory
	partBytes       uint64 // scratch for the splits' partial results (0 if splits == 1)
	combineThreads  uint32 // attn_combine's block
	vec             int    // generic kernel: 16-byte K loads
	heads, kvHeads  int
	headDim, seq, n int
	twoByte         bool // a bf16 or f16 cache
}

// planAttention picks the kernel for a call with n query tokens over a
// cache of seq rows (whose addresses kp and vp are), query and output
// addresses qp and op, on sms multiprocessors.
func planAttention(dt device.KVDType, n, seq, heads, kvHeads, headDim, sms int, qp, kp, vp, op uint64) attnPlan {
	p := attnPlan{heads: heads, kvHeads: kvHeads, headDim: headDim, seq: seq, n: n, splits: 1}
	width := kvHeads * headDim
	p.twoByte = dt.Size() == 2
	cachesAligned := kp%16 == 0 && vp%16 == 0 && (width*dt.Size())%16 == 0
	group := heads / kvHeads
	switch {
	case attnPrefillOn && p.twoByte && headDim == 64 && n >= attnPrefillMinRows && cachesAligned && qp%8 == 0 && op%8 == 0:
		p.kind = attnPrefill
		p.grid = Dim3{X: uint32(ceilDiv(n, 64)), Y: uint32(heads)}
		p.block = Dim3{X: 128}
		return p
	case attnDecodeOn && p.twoByte && (headDim == 64 || headDim == 128) && group <= 8 && cachesAligned:
		p.kind = attnDecode
		tile := 4096 / headDim
		p.align, p.minChunk = tile, tile
		p.splits = attentionSplits(seq, kvHeads*n, sms, tile)
		p.grid = Dim3{X: uint32(p.splits), Y: uint32(kvHeads), Z: uint32(n)}
		p.block = Dim3{X: 128}
		p.shmem = uint32(group*headDim*4 + tile*(2*headDim+16) + tile*2*headDim)
	default:
		p.kind = attnGeneric
		p.align, p.minChunk = 32, attentionMinChunk
		groups := ceilDiv(heads, 4)
		p.splits = attentionSplits(seq, groups*n, sms, attentionMinChunk)
		p.grid = Dim3{X: uint32(p.splits), Y: uint32(groups), Z: uint32(n)}
		p.block = Dim3{X: 128}
		if headDim%8 == 0 && cachesAligned {
			p.vec = 1
		}
	}
	if p.splits > 1 {
		p.partBytes = uint64(n) * uint64(heads) * uint64(p.splits) * uint64(headDim+2) * 4
		p.combineThreads = uint32(min(headDim, 256))
	}
	return p
}

// attentionSplits is the number of chunks a split kernel takes a context
// of at most seq rows in, when each split is blocksPerSplit blocks: about
// four blocks per multiprocessor in all, no more splits than chunks of
// minChunk rows fit in seq, at most maxAttentionSplits.
func attentionSplits(seq, blocksPerSplit, sms, minChunk int) int {
	s := ceilDiv(4*sms, max(blocksPerSplit, 1))
	s = min(s, ceilDiv(seq, minChunk), maxAttentionSplits)
	return max(s, 1)
}

// attentionChunk is kernels/attention.cu's attn_chunk: the rows each split
// takes when the pass's last token sees ctxMax rows.
func attentionChunk(ctxMax, splits, align, minChunk int) int {
	c := ceilDiv(ctxMax, splits)
	c = ceilDiv(c, align) * align
	return max(c, minChunk)
}

// Attention runs causal grouped-query attention over cache rows
// 0..pos+n-1 (planAttention says which kernel). In a program (program.go)
// the kernels take pos from the program's parameter block.
func (m *Memory) Attention(q, kCache, vCache, out device.Span, dt device.KVDType, n, pos, heads, kvHeads, headDim int) error {
	if err := llmabi.Check(m.size, nil, llmabi.Attention(q, kCache, vCache, out, dt, n, pos, heads, kvHeads, headDim)); err != nil {
		return err
	}
	if headDim > 256 {
		return fmt.Errorf("attention: headDim %d is above the cuda kernels' 256", headDim)
	}
	rowBytes := uint64(kvHeads * headDim * dt.Size())
	seq := int(kCache.Len / rowBytes)
	// Only the rows read are staged in copy mode; a program's kernels read
	// up to whatever position it runs at.
	k, v := kCache, vCache
	if m.posSlot() == 0 {
		used := uint64(pos+n) * rowBytes
		k, v = device.Span{Off: kCache.Off, Len: used}, device.Span{Off: vCache.Off, Len: used}
	}
	c := llmCall{name: "attention", n: 4, args: [maxLLMArgs]operand.Operand{operand.In(q), operand.In(k), operand.In(v), operand.Out(out)}}
	return m.llmRun(&c, func() error {
		if err := m.toDevice(kCache); err != nil {
			return err
		}
		if err := m.toDevice(vCache); err != nil {
			return err
		}
		p := planAttention(dt, n, seq, heads, kvHeads, headDim, m.llm.sms, c.ptr[0], c.ptr[1], c.ptr[2], c.ptr[3])
		return m.attention(p, dtIndex(string(dt)), c.ptr, pos, float32(1/math.Sqrt(float64(headDim))))
	})
}

// attention queues plan p's kernels on operand addresses ptr (q, k, v,
// out). The context is current.
func (m *Memory) attention(p attnPlan, dt int, ptr [maxLLMArgs]uint64, pos int, scale float32) error {
	k, posp := m.llm.k, m.posSlot()
	var part uint64
	if p.partBytes > 0 {
		if err := m.growLLMBuf(&m.llm.scratch, p.partBytes, false); err != nil {
			return err
		}
		part = m.llm.scratch.ptr
	}
	switch p.kind {
	case attnPrefill:
		m.setArgs(ptr[0], ptr[1], ptr[2], ptr[3], posp, i32(pos), i32(p.n), i32(p.heads), i32(p.kvHeads), f32bits(scale))
		return m.launch(k.attnPrefill[dt], p.grid, p.block, 0)
	case attnDecode:
		m.setArgs(ptr[0], ptr[1], ptr[2], ptr[3], part, posp, i32(pos), i32(p.n), i32(p.heads), i32(p.kvHeads), i32(p.splits), f32bits(scale))
		kern := k.attnDecode64[dt]
		if p.headDim == 128 {
			kern = k.attnDecode128[dt]
		}
		if err := m.launch(kern, p.grid, p.block, p.shmem); err != nil {
			return err
		}
	default:
		m.setArgs(ptr[0], ptr[1], ptr[2], ptr[3], part, posp, i32(pos), i32(p.n), i32(p.heads), i32(p.kvHeads), i32(p.headDim), i32(p.splits), i32(p.minChunk), f32bits(scale), i32(p.vec))
		if err := m.launch(k.attention[dt], p.grid, p.block, 0); err != nil {
			return err
		}
	}
	// A per-op call whose every token fits one chunk has nothing to
	// combine; a program's launch must serve every position, so it combines
	// always (the kernel returns at once for such tokens).
	if p.splits == 1 || (posp == 0 && attentionChunk(pos+p.n, p.splits, p.align, p.minChunk) >= pos+p.n) {
		return nil
	}
	m.setArgs(part, ptr[3], posp, i32(pos), i32(p.n), i32(p.heads), i32(p.headDim), i32(p.splits), i32(p.align), i32(p.minChunk))
	return m.launch(k.combine, Dim3{X: uint32(p.heads), Y: uint32(p.n)}, Dim3{X: p.combineThreads}, 0)
}
