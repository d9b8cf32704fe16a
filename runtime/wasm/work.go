package wasm

import "math/bits"

// callWork estimates, from a host call's raw arguments and before anything
// is checked, how many multiply-adds the call asks for, for the guest's
// MaxCallWork. Only the kernels whose work grows faster than the bytes they
// touch are listed: a projection (n rows times a weight matrix) and
// attention (n queries times pos+n keys); every other kernel does work in
// proportion to operands that already fit the guest's memory. matmul checks
// its own (hostMatMul).
//
// An estimate takes the smaller of each claimed dimension and what the
// operands the guest passed could hold, so a call that lies about its shape
// is refused by the op's own checks with the usual message, and the estimate
// of a call that passes them is its real work (attention's: an upper bound,
// n·(pos+n) where the causal mask makes it n·pos + n(n+1)/2).
//
// The argument positions are those of llm_abi.go's wire ABI.
var callWork = map[string]func(g *Guest, s []uint64) uint64{
	// llm_linear(weight, x, x_len, out, out_len, n)
	"llm_linear": func(g *Guest, s []uint64) uint64 { return projectionWork(g, s[0], s[2], s[5]) },
	// llm_linear_add(weight, x, x_len, tmp, tmp_len, resid, resid_len, n)
	"llm_linear_add": func(g *Guest, s []uint64) uint64 { return projectionWork(g, s[0], s[2], s[7]) },
	// llm_norm_linear(norm, count, w0, w1, w2, x, x_len, ..., n, eps)
	"llm_norm_linear": func(g *Guest, s []uint64) uint64 {
		var w uint64
		for i := range min(uint32(s[1]), 3) {
			w = satAdd(w, projectionWork(g, s[2+i], s[6], s[15]))
		}
		return w
	},
	// llm_norm_glu(norm, gate, up, x, x_len, ..., n, eps)
	"llm_norm_glu": func(g *Guest, s []uint64) uint64 {
		return satAdd(projectionWork(g, s[1], s[4], s[11]), projectionWork(g, s[2], s[4], s[11]))
	},
	// llm_attention(q, q_len, k, k_len, v, v_len, out, out_len, kv, n, pos, heads, kv_heads, head_dim)
	"llm_attention": func(_ *Guest, s []uint64) uint64 {
		qLen, kLen, kv := uint64(uint32(s[1])), uint64(uint32(s[3])), uint32(s[8])
		n, pos, heads, kvHeads, headDim := uint64(uint32(s[9])), uint64(uint32(s[10])), uint64(uint32(s[11])), uint64(uint32(s[12])), uint64(uint32(s[13]))
		if int(kv) >= len(KVCodes) || heads == 0 || kvHeads == 0 || headDim == 0 {
			return 0
		}
		qRow := satMul(4*heads, headDim)                                     // bytes of one token's queries
		kRow := satMul(satMul(kvHeads, headDim), uint64(KVCodes[kv].Size())) // of one cache row
		n = min(n, qLen/qRow)
		ctx := min(pos+n, kLen/kRow)
		return satMul(satMul(2*n, ctx), satMul(heads, headDim))
	},
}

// projectionWork is n·out·in for weight id's [out, in] matrix, n at most
// the rows of in float32s that x_len bytes hold; 0 when there is no such
// weight (the op's own checks refuse it).
func projectionWork(g *Guest, id, xLen, n uint64) uint64 {
	if g.Weights == nil {
		return 0
	}
	t, ok := g.Weights.Tensor(tensorID(id))
	if !ok || len(t.Shape) != 2 || t.Shape[0] <= 0 || t.Shape[1] <= 0 {
		return 0
	}
	out, in := uint64(t.Shape[0]), uint64(t.Shape[1])
	rows := min(uint64(uint32(n)), uint64(uint32(xLen))/(4*in))
	return satMul(rows, satMul(out, in))
}

// satMul is a·b, or MaxUint64 if that overflows.
func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return 1<<64 - 1
	}
	return lo
}

// satAdd is a+b, or MaxUint64 if that overflows.
func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return 1<<64 - 1
	}
	return s
}
