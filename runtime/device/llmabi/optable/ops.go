// Package optable is the Llama kernel ABI's op table: for every op its
// name and stable code, its weights, its operands (role, element type and
// the shape their length must have), its scalars, the overlaps it allows,
// and its batching class, as Go data in one place (Ops).
//
// Everything else about the ops follows from this table. `go generate
// ./runtime/device/llmabi` writes from it the device contract's LLMOps
// interface (runtime/device), the constructors and the dispatch of
// llmabi.Call, and the guest's imports and wrappers (runtime/guest/program);
// llmabi decodes the host ABI's arguments and validates every call, native
// or from a guest, by reading it. Adding an op is an entry here, its
// kernels in each backend, and its fixture in the conformance suite
// (RATIONALE.md lists the steps).
//
// Conventions for every op: activations are float32, row-major, one row per
// token ([n, width]); a weight W of a projection is [out, in] as in Hugging
// Face, and Linear computes out[t, o] = Σ_i x[t, i]·W[o, i]; a KV cache is
// [maxSeq, kvHeads·headDim] per layer and per K and V, in the call's KV
// dtype, written by kvstore and read by attention. Operands are 4-byte
// aligned.
package optable

// Ops is the op table, in code order. The wire form of a call is its op's
// weights (a repeated group's count first), then each operand's (ptr, len),
// then its scalars, each one 32-bit word; for rope_kv:
//
//	llm_rope_kv(q, q_len, k, k_len, v, v_len, inv_freq, inv_freq_len,
//	            k_cache, k_cache_len, v_cache, v_cache_len, dt, n, pos, heads, kv_heads, head_dim)
var Ops = []Op{
	{
		Code: 0, Name: "embed", Method: "Embed", Batch: RowWise,
		Doc:     "writes rows tokens[t] of the embedding table (tensor table, [vocab, dim]) to out, widened to float32. A token id outside the table is an error the kernel reports (ids are data: no argument check sees them).",
		Weights: []Weight{{Name: "table", Shape: "vocab, dim"}},
		Operands: []Operand{
			{Name: "tokens", Role: In, Elem: I32, Shape: "n"},
			{Name: "out", Role: Out, Elem: F32, Shape: "n, dim"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}},
	},
	{
		Code: 1, Name: "rmsnorm", Method: "RMSNorm", Batch: RowWise,
		Doc:     "writes x·rsqrt(mean(x²)+eps)·weight to out, row by row; out may be x itself.",
		Weights: []Weight{{Name: "weight", Shape: "dim"}},
		Operands: []Operand{
			{Name: "x", Role: In, Elem: F32, Shape: "n, dim"},
			{Name: "out", Role: Out, Elem: F32, Shape: "n, dim", Alias: "x"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}, {Name: "eps", Kind: NonNeg}},
	},
	{
		Code: 2, Name: "linear", Work: Projections, Method: "Linear", Batch: RowWise,
		Doc:     "writes out = x·Wᵀ for the tensor weight W. n = 1 is decode (a GEMV), n > 1 prefill (a GEMM).",
		Weights: []Weight{{Name: "weight", Shape: "outDim, in"}},
		Operands: []Operand{
			{Name: "x", Role: In, Elem: F32, Shape: "n, in"},
			{Name: "out", Role: Out, Elem: F32, Shape: "n, outDim"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}},
	},
	{
		Code: 3, Name: "rope", Method: "RoPE", Batch: PerSequence,
		Doc: "rotates x in place for positions pos..pos+n-1 with Hugging Face's rotate-half pairing (i, i+headDim/2) " +
			"and the inverse frequencies invFreq (the engine applies any frequency scaling, such as llama3's, when it fills them).",
		Operands: []Operand{
			{Name: "x", Role: InOut, Elem: F32, Shape: "n, heads, headDim"},
			{Name: "invFreq", Role: In, Elem: F32, Shape: "headDim/2"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}, {Name: "heads", Kind: Count}, {Name: "headDim", Kind: Count}, {Name: "pos", Kind: Index}},
		Rules:   []string{"headDim % 2 == 0"},
	},
	{
		Code: 4, Name: "kvstore", Method: "KVStore", Batch: PerSequence,
		Doc: "converts src to the cache's dtype dt (rounding to nearest even) and writes it to rows pos..pos+n-1 of cache; " +
			"the cache's length states its rows.",
		Operands: []Operand{
			{Name: "src", Role: In, Elem: F32, Shape: "n, width"},
			{Name: "cache", Role: Out, Elem: KV, Shape: "seq, width"},
		},
		Scalars: []Scalar{{Name: "dt", Kind: KVDType}, {Name: "n", Kind: Count}, {Name: "pos", Kind: Index}, {Name: "width", Kind: Count}},
		Rules:   []string{"seq >= pos + n"},
	},
	{
		Code: 5, Name: "attention", Work: Attention, Method: "Attention", Batch: PerSequence,
		Doc: "computes causal grouped-query attention for the n query tokens at positions pos..pos+n-1 over cache rows 0..pos+n-1, " +
			"with scale 1/sqrt(headDim); query head h reads KV head h/(heads/kvHeads).",
		Operands: []Operand{
			{Name: "q", Role: In, Elem: F32, Shape: "n, heads, headDim"},
			{Name: "kCache", Role: In, Elem: KV, Shape: "seq, kvHeads, headDim"},
			{Name: "vCache", Role: In, Elem: KV, Shape: "seq, kvHeads, headDim"},
			{Name: "out", Role: Out, Elem: F32, Shape: "n, heads, headDim"},
		},
		Scalars: []Scalar{{Name: "dt", Kind: KVDType}, {Name: "n", Kind: Count}, {Name: "pos", Kind: Index},
			{Name: "heads", Kind: Count}, {Name: "kvHeads", Kind: Count}, {Name: "headDim", Kind: Count}},
		Rules: []string{"heads % kvHeads == 0", "seq >= pos + n"},
	},
	{
		Code: 6, Name: "swiglu", Method: "SwiGLU", Batch: RowWise,
		Doc: "writes out = silu(gate)·up elementwise; out may be gate itself.",
		Operands: []Operand{
			{Name: "gate", Role: In, Elem: F32, Shape: "count"},
			{Name: "up", Role: In, Elem: F32, Shape: "count"},
			{Name: "out", Role: Out, Elem: F32, Shape: "count", Alias: "gate"},
		},
		Scalars: []Scalar{{Name: "count", Kind: Count}},
	},
	{
		Code: 7, Name: "add", Method: "Add", Batch: RowWise,
		Doc: "does x += y elementwise.",
		Operands: []Operand{
			{Name: "x", Role: InOut, Elem: F32, Shape: "count"},
			{Name: "y", Role: In, Elem: F32, Shape: "count"},
		},
		Scalars: []Scalar{{Name: "count", Kind: Count}},
	},
	{
		Code: 8, Name: "argmax", Method: "Argmax", Batch: RowWise,
		Doc: "writes, for each row of x, the index of its largest value (the first on ties) to out, or -1 for a row that holds NaN or ±Inf (the engine reports such logits as an error, naming the position).",
		Operands: []Operand{
			{Name: "x", Role: In, Elem: F32, Shape: "n, width"},
			{Name: "out", Role: Out, Elem: I32, Shape: "n"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}, {Name: "width", Kind: Count}},
	},
	{
		Code: 9, Name: "sync", Method: "Sync", Batch: Barrier,
		Doc: "waits for every op queued before it. Ops may run asynchronously: results (argmax's indices, logits) are in memory only after a Sync.",
	},
	{
		Code: 10, Name: "norm_linear", Work: Projections, Method: "NormLinear", Batch: RowWise, Group: 3,
		Doc: "normalizes x with the RMSNorm weight norm into the scratch xb and projects it with each weight: outs[i] = xb·W_iᵀ; " +
			"x is left unchanged. It is the attention block's input (q, k and v at once) and the final norm with lm_head.",
		Def:     "RMSNorm(norm, x, xb, n, eps); Linear(weights[i], xb, outs[i], n) for each i",
		Weights: []Weight{{Name: "norm", Shape: "dim"}, {Name: "weights", Shape: "rows, dim", Repeat: true}},
		Operands: []Operand{
			{Name: "x", Role: In, Elem: F32, Shape: "n, dim"},
			{Name: "xb", Role: Scratch, Elem: F32, Shape: "n, dim"},
			{Name: "outs", Role: Out, Elem: F32, Shape: "n, rows", Repeat: true},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}, {Name: "eps", Kind: NonNeg}},
	},
	{
		Code: 11, Name: "norm_glu", Work: Projections, Method: "NormGLU", Batch: RowWise,
		Doc: "is a gated MLP's input half: out = silu(xb·Gᵀ)·(xb·Uᵀ) with xb = RMSNorm(norm, x); " +
			"xb and tmp are scratch, x is left unchanged.",
		Def:     "RMSNorm(norm, x, xb, n, eps); Linear(gate, xb, out, n); Linear(up, xb, tmp, n); SwiGLU(out, tmp, out, n·inter)",
		Weights: []Weight{{Name: "norm", Shape: "dim"}, {Name: "gate", Shape: "inter, dim"}, {Name: "up", Shape: "inter, dim"}},
		Operands: []Operand{
			{Name: "x", Role: In, Elem: F32, Shape: "n, dim"},
			{Name: "xb", Role: Scratch, Elem: F32, Shape: "n, dim"},
			{Name: "tmp", Role: Scratch, Elem: F32, Shape: "n, inter"},
			{Name: "out", Role: Out, Elem: F32, Shape: "n, inter"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}, {Name: "eps", Kind: NonNeg}},
		Rules:   []string{"dtype(up) == dtype(gate)"},
	},
	{
		Code: 12, Name: "linear_add", Work: Projections, Method: "LinearAdd", Batch: RowWise,
		Doc:     "adds a projection to the residual stream: resid += x·Wᵀ; tmp is scratch.",
		Def:     "Linear(weight, x, tmp, n); Add(resid, tmp, n·outDim)",
		Weights: []Weight{{Name: "weight", Shape: "outDim, in"}},
		Operands: []Operand{
			{Name: "x", Role: In, Elem: F32, Shape: "n, in"},
			{Name: "tmp", Role: Scratch, Elem: F32, Shape: "n, outDim"},
			{Name: "resid", Role: InOut, Elem: F32, Shape: "n, outDim"},
		},
		Scalars: []Scalar{{Name: "n", Kind: Count}},
	},
	{
		Code: 13, Name: "rope_kv", Method: "RoPEKV", Batch: PerSequence,
		Doc: "rotates q and k for positions pos..pos+n-1 and appends k and v to the caches at rows pos..pos+n-1.",
		Def: "RoPE(q, invFreq, n, heads, headDim, pos); RoPE(k, invFreq, n, kvHeads, headDim, pos); " +
			"KVStore(k, kCache, dt, n, pos, kvHeads·headDim); KVStore(v, vCache, dt, n, pos, kvHeads·headDim)",
		Operands: []Operand{
			{Name: "q", Role: InOut, Elem: F32, Shape: "n, heads, headDim"},
			{Name: "k", Role: InOut, Elem: F32, Shape: "n, kvHeads, headDim"},
			{Name: "v", Role: In, Elem: F32, Shape: "n, kvHeads, headDim"},
			{Name: "invFreq", Role: In, Elem: F32, Shape: "headDim/2"},
			{Name: "kCache", Role: Out, Elem: KV, Shape: "seq, kvHeads, headDim"},
			{Name: "vCache", Role: Out, Elem: KV, Shape: "seq, kvHeads, headDim"},
		},
		Scalars: []Scalar{{Name: "dt", Kind: KVDType}, {Name: "n", Kind: Count}, {Name: "pos", Kind: Index},
			{Name: "heads", Kind: Count}, {Name: "kvHeads", Kind: Count}, {Name: "headDim", Kind: Count}},
		Rules: []string{"headDim % 2 == 0", "seq >= pos + n"},
	},
}
