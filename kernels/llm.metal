// llm.metal: the Llama kernels of the metal backend's device.LLMOps
// (runtime/device/metal/llm*.go). The set and the names follow kernels/llm.cu:
// kernels that read weights or a KV cache exist once per element type, with
// a _bf16, _f16 or _f32 suffix (DT = 0, 1, 2), made from one template by the
// LLM_DT macro at the end; the others are f32 only.
//
// Semantics follow the cpu reference (runtime/device/cpu/llm_kernels.go):
// float32 activations and float32 accumulation. MSL has no double, so exp,
// cos, sin and sqrt are the precise:: float versions, and the backend
// compiles this file with fastMathEnabled = NO: the online softmax and
// argmax rely on IEEE infinities and NaN comparisons.
//
// bf16 is read as ushort and widened by a shift (MSL's bfloat needs MSL 3.1,
// macOS 14); f16 is read as ushort and widened, and f32 narrowed to bf16 and
// f16, by bit manipulation that is exact and identical to
// internal/safetensors (round to nearest even, subnormals kept), so cache
// bytes match the cpu backend's whatever the GPU does with denormal halves.
//
// Every buffer arrives with its byte offset already applied
// (setBuffer:offset:atIndex:, offsets 4-byte aligned); sizes come in small
// constant structs (setBytes) whose fields are all 4 bytes, mirrored on the
// Go side as uint32 lists. Element indices are uint: the host checks that
// every tensor and span holds fewer than 2^32 elements.
//
// Written in the common subset of MSL 2.4 and 3.0. The reductions assume a
// SIMD width of 32 (every Apple GPU); the host refuses other widths.

#include <metal_stdlib>
using namespace metal;

#define DT_BF16 0
#define DT_F16 1
#define DT_F32 2

// bf2f widens a bf16 (the top half of a float32).
inline float bf2f(ushort h) { return as_type<float>(uint(h) << 16); }

// h2f widens an IEEE half exactly, subnormals included.
inline float h2f(ushort h) {
    uint sgn = uint(h & 0x8000) << 16;
    uint e = (uint(h) >> 10) & 0x1fu;
    uint man = uint(h) & 0x3ffu;
    if (e == 0x1fu) {
        return as_type<float>(sgn | 0x7f800000u | (man << 13));
    }
    if (e != 0u) {
        return as_type<float>(sgn | ((e + 112u) << 23) | (man << 13));
    }
    float v = float(man) * 5.9604644775390625e-8f; // man·2^-24, exact
    return sgn != 0u ? -v : v;
}

// f2bf rounds to bf16, nearest even; NaN becomes 0x7fc0.
inline ushort f2bf(float f) {
    uint b = as_type<uint>(f);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
        return ushort(0x7fc0);
    }
    b += 0x7fffu + ((b >> 16) & 1u);
    return ushort(b >> 16);
}

// f2h rounds to IEEE half, nearest even: beyond ±65504 infinity, below the
// smallest subnormal signed zero, NaN quieted (internal/safetensors.F32ToF16).
inline ushort f2h(float f) {
    uint b = as_type<uint>(f);
    uint sgn = (b >> 16) & 0x8000u;
    int e8 = int((b >> 23) & 0xffu);
    uint man = b & 0x7fffffu;
    if (e8 == 0xff) {
        return ushort(man == 0u ? (sgn | 0x7c00u) : (sgn | 0x7e00u | (man >> 13)));
    }
    int e = e8 - 127 + 15;
    if (e >= 0x1f) {
        return ushort(sgn | 0x7c00u);
    }
    if (e <= 0) {
        if (e < -10) {
            return ushort(sgn);
        }
        uint m = man | 0x800000u;
        uint shift = uint(14 - e);
        uint halfway = 1u << (shift - 1u);
        uint r = m >> shift;
        uint rem = m & ((1u << shift) - 1u);
        if (rem > halfway || (rem == halfway && (r & 1u) == 1u)) {
            r++;
        }
        return ushort(sgn | r);
    }
    uint r = (uint(e) << 10) | (man >> 13);
    uint rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u) == 1u)) {
        r++;
    }
    return ushort(sgn | r);
}

// ld reads element i of a DT array as float.
template <int DT>
inline float ld(device const uchar *p, uint i) {
    if (DT == DT_BF16) {
        return bf2f(((device const ushort *)p)[i]);
    }
    if (DT == DT_F16) {
        return h2f(((device const ushort *)p)[i]);
    }
    return ((device const float *)p)[i];
}

// ld4 reads elements 4c..4c+3 of a DT array with one 8-byte (bf16, f16) or
// 16-byte (f32) load; the array must start at such an alignment.
template <int DT>
inline float4 ld4(device const uchar *p, uint c) {
    if (DT == DT_F32) {
        return ((device const float4 *)p)[c];
    }
    ushort4 v = ((device const ushort4 *)p)[c];
    if (DT == DT_BF16) {
        return float4(bf2f(v.x), bf2f(v.y), bf2f(v.z), bf2f(v.w));
    }
    return float4(h2f(v.x), h2f(v.y), h2f(v.z), h2f(v.w));
}

// The constant arguments of each kernel (metal.llm*.go packs them).
struct embed_args {
    uint vocab;
    uint dim;
};
struct rmsnorm_args {
    uint dim;
    float eps;
};
struct gemv_args {
    uint rows; // output rows of W
    uint in;   // columns of W
    uint vec;  // 1 if in is a multiple of 4: read W four elements at a time
};
struct gemm_args {
    uint n;    // token rows of x and out
    uint rows; // output rows of W
    uint in;   // columns of W
};
struct rope_args {
    uint n;
    uint heads;
    uint head_dim;
    uint pos;
};
struct kvstore_args {
    uint base;  // first cache element written
    uint count; // elements written
};
struct attention_args {
    uint pos;
    uint heads;
    uint kv_heads;
    uint head_dim;
    float scale;
};
struct count_args {
    uint count;
};
struct argmax_args {
    uint width;
};

// embed: thread (i, t) of the grid writes out[t, i] = table[tokens[t], i]
// widened to float. A token outside the table writes 0: the host refused the
// call already if it saw such an id, and this keeps an id changed after that
// check from steering a read outside the table.
template <int DT>
inline void embed(device const uchar *table, device const int *tokens, device float *out,
                  constant embed_args &a, uint2 gid) {
    if (gid.x >= a.dim) {
        return;
    }
    int id = tokens[gid.y];
    bool ok = id >= 0 && uint(id) < a.vocab;
    out[gid.y * a.dim + gid.x] = ok ? ld<DT>(table, uint(id) * a.dim + gid.x) : 0.0f;
}

// rmsnorm: one threadgroup per row. Thread k sums x[i]² over i = k, k+T, ...
// (T threads); simd_sum and the threadgroup array part[] reduce the sums;
// then thread k writes out[i] = w[i]·(x[i]·rsqrt(mean + eps)) for the same i,
// so out may be x.
template <int DT>
inline void rmsnorm(device const uchar *w, device const float *x, device float *out,
                    constant rmsnorm_args &a, threadgroup float *part,
                    uint row, uint tid, uint nthreads, uint lane, uint sg, uint nsg) {
    device const float *xr = x + row * a.dim;
    device float *orow = out + row * a.dim;
    float ss = 0.0f;
    for (uint i = tid; i < a.dim; i += nthreads) {
        float v = xr[i];
        ss = fma(v, v, ss);
    }
    ss = simd_sum(ss);
    if (lane == 0) {
        part[sg] = ss;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (sg == 0) {
        float s = lane < nsg ? part[lane] : 0.0f;
        s = simd_sum(s);
        if (lane == 0) {
            part[32] = s;
        }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float inv = 1.0f / precise::sqrt(part[32] / float(a.dim) + a.eps);
    for (uint i = tid; i < a.dim; i += nthreads) {
        orow[i] = ld<DT>(w, i) * (xr[i] * inv);
    }
}

// gemv (decode Linear, n = 1): out[o] = Σ_i x[i]·W[o, i]. Simdgroup s of
// threadgroup g owns row o = g·S + s (S simdgroups per threadgroup). Lane l
// reads the row's four-element packs l, l+32, ... (8 or 16 contiguous bytes
// per lane, one coalesced 256- or 512-byte read per simdgroup) when in is a
// multiple of 4, single elements l, l+32, ... otherwise; simd_sum reduces
// and lane 0 writes.
template <int DT>
inline void gemv(device const uchar *W, device const float *x, device float *out,
                 constant gemv_args &a, uint tg, uint lane, uint sg, uint nsg) {
    uint o = tg * nsg + sg;
    if (o >= a.rows) {
        return; // the whole simdgroup leaves; no barrier follows
    }
    float acc = 0.0f;
    if (a.vec != 0u) {
        uint packs = a.in / 4u;
        uint base = o * packs;
        for (uint c = lane; c < packs; c += 32u) {
            float4 w = ld4<DT>(W, base + c);
            uint i = 4u * c;
            acc = fma(w.x, x[i], acc);
            acc = fma(w.y, x[i + 1u], acc);
            acc = fma(w.z, x[i + 2u], acc);
            acc = fma(w.w, x[i + 3u], acc);
        }
    } else {
        uint base = o * a.in;
        for (uint i = lane; i < a.in; i += 32u) {
            acc = fma(ld<DT>(W, base + i), x[i], acc);
        }
    }
    acc = simd_sum(acc);
    if (lane == 0) {
        out[o] = acc;
    }
}

// gemm (prefill Linear, n > 1): out[t, o] = Σ_i x[t, i]·W[o, i] with 16×16
// tiles in threadgroup memory. Thread (tx, ty) of threadgroup (bx, by)
// computes out[by·16 + ty, bx·16 + tx]; per 16-wide step of i it loads
// x[by·16 + ty, i + tx] and W[bx·16 + ty, i + tx] into the tiles (each W
// element is read once per 16 tokens).
template <int DT>
inline void gemm(device const uchar *W, device const float *x, device float *out,
                 constant gemm_args &a, threadgroup float *xs, threadgroup float *ws,
                 uint2 tgp, uint2 tid) {
    uint tx = tid.x, ty = tid.y;
    uint t = tgp.y * 16u + ty;
    uint o = tgp.x * 16u + tx;
    uint wo = tgp.x * 16u + ty;
    float acc = 0.0f;
    for (uint k0 = 0; k0 < a.in; k0 += 16u) {
        uint k = k0 + tx;
        xs[ty * 17u + tx] = (t < a.n && k < a.in) ? x[t * a.in + k] : 0.0f;
        ws[ty * 17u + tx] = (wo < a.rows && k < a.in) ? ld<DT>(W, wo * a.in + k) : 0.0f;
        threadgroup_barrier(mem_flags::mem_threadgroup);
        for (uint j = 0; j < 16u; j++) {
            acc = fma(xs[ty * 17u + j], ws[tx * 17u + j], acc);
        }
        threadgroup_barrier(mem_flags::mem_threadgroup);
    }
    if (t < a.n && o < a.rows) {
        out[t * a.rows + o] = acc;
    }
}

// kvstore: thread i converts src[i] to the cache's type and writes it to
// cache element base + i.
template <int DT>
inline void kvstore(device const float *src, device uchar *dst, constant kvstore_args &a, uint i) {
    if (i >= a.count) {
        return;
    }
    float v = src[i];
    uint j = a.base + i;
    if (DT == DT_BF16) {
        ((device ushort *)dst)[j] = f2bf(v);
    } else if (DT == DT_F16) {
        ((device ushort *)dst)[j] = f2h(v);
    } else {
        ((device float *)dst)[j] = v;
    }
}

#define ATT_SG 8     // simdgroups per attention threadgroup (256 threads)
#define ATT_MAXD 256 // largest headDim: 8 output dims per lane

// attention: causal grouped-query attention with an online softmax.
// Threadgroup (h, t) handles query head h of token t (KV head h/(heads/kvHeads))
// over cache rows 0..pos+t, in blocks of 32 rows: simdgroup s takes blocks
// s, s+8, ..., so a long context is spread over all 256 threads. Per block,
// lane l scores row j = block + l (q·K[j]·scale, q from threadgroup memory),
// the simdgroup takes the block's max and rescales its running max m, sum l
// and output acc; then lane l adds p_j·V[j, d] for its dims d = l, l+32, ...
// At the end the simdgroups' (m, l, acc) are merged through threadgroup
// memory and thread d writes out[t, h, d].
template <int DT>
inline void attention(device const float *q, device const uchar *kc, device const uchar *vc,
                      device float *out, constant attention_args &a,
                      threadgroup float *qs, threadgroup float *accs,
                      threadgroup float *ms, threadgroup float *ls,
                      uint2 tgp, uint tid, uint lane, uint sg, uint nsg) {
    uint nthreads = nsg * 32u;
    uint h = tgp.x, t = tgp.y;
    uint hd = a.head_dim;
    uint kvh = h / (a.heads / a.kv_heads);
    uint width = a.kv_heads * hd;
    uint kvoff = kvh * hd;
    uint qoff = (t * a.heads + h) * hd;
    for (uint d = tid; d < hd; d += nthreads) {
        qs[d] = q[qoff + d];
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);

    uint ctx = a.pos + t + 1u;
    float m = -INFINITY;
    float l = 0.0f;
    float acc[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (uint jb = sg * 32u; jb < ctx; jb += nsg * 32u) {
        uint j = jb + lane;
        float sc = -INFINITY;
        if (j < ctx) {
            uint base = j * width + kvoff;
            float qk = 0.0f;
            for (uint d = 0; d < hd; d++) {
                qk = fma(qs[d], ld<DT>(kc, base + d), qk);
            }
            sc = qk * a.scale;
        }
        float mn = max(m, simd_max(sc)); // finite: row jb < ctx exists
        float corr = m == -INFINITY ? 0.0f : precise::exp(m - mn);
        float p = j < ctx ? precise::exp(sc - mn) : 0.0f;
        l = l * corr + simd_sum(p);
        for (uint k = 0; k < 8u; k++) {
            acc[k] *= corr;
        }
        uint nk = min(32u, ctx - jb);
        for (uint kk = 0; kk < nk; kk++) {
            float pk = simd_shuffle(p, ushort(kk));
            uint vb = (jb + kk) * width + kvoff;
            for (uint k = 0; k < 8u; k++) {
                uint d = lane + 32u * k;
                if (d < hd) {
                    acc[k] = fma(pk, ld<DT>(vc, vb + d), acc[k]);
                }
            }
        }
        m = mn;
    }

    if (lane == 0) {
        ms[sg] = m;
        ls[sg] = l;
    }
    for (uint k = 0; k < 8u; k++) {
        uint d = lane + 32u * k;
        if (d < hd) {
            accs[sg * ATT_MAXD + d] = acc[k];
        }
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    float big = -INFINITY;
    for (uint s = 0; s < nsg; s++) {
        big = max(big, ms[s]); // finite: simdgroup 0 saw row 0
    }
    for (uint d = tid; d < hd; d += nthreads) {
        float num = 0.0f, den = 0.0f;
        for (uint s = 0; s < nsg; s++) {
            if (ls[s] == 0.0f) {
                continue; // a simdgroup with no rows
            }
            float e = precise::exp(ms[s] - big);
            num = fma(e, accs[s * ATT_MAXD + d], num);
            den = fma(e, ls[s], den);
        }
        out[qoff + d] = num / den;
    }
}

// rope_f32: thread u rotates one pair (i, i+half) of one head of one token,
// u = (t·heads + h)·half + i, by the angle (pos+t)·invFreq[i] (a float
// product, as the cpu reference), with Hugging Face's rotate-half pairing.
kernel void rope_f32(device float *x              [[buffer(0)]],
                     device const float *inv_freq [[buffer(1)]],
                     constant rope_args &a        [[buffer(2)]],
                     uint u                       [[thread_position_in_grid]])
{
    uint half_dim = a.head_dim / 2u;
    if (u >= a.n * a.heads * half_dim) {
        return;
    }
    uint i = u % half_dim;
    uint th = u / half_dim;
    uint t = th / a.heads;
    float ang = float(a.pos + t) * inv_freq[i];
    float c = precise::cos(ang);
    float s = precise::sin(ang);
    device float *v = x + th * a.head_dim;
    float x0 = v[i];
    float x1 = v[i + half_dim];
    v[i] = x0 * c - x1 * s;
    v[i + half_dim] = x1 * c + x0 * s;
}

// swiglu_f32: thread i writes out[i] = silu(gate[i])·up[i]; out may be gate.
kernel void swiglu_f32(device const float *gate [[buffer(0)]],
                       device const float *up   [[buffer(1)]],
                       device float *out        [[buffer(2)]],
                       constant count_args &a   [[buffer(3)]],
                       uint i                   [[thread_position_in_grid]])
{
    if (i >= a.count) {
        return;
    }
    float g = gate[i];
    out[i] = (g / (1.0f + precise::exp(-g))) * up[i];
}

// add_f32: thread i does x[i] += y[i].
kernel void add_f32(device float *x          [[buffer(0)]],
                    device const float *y    [[buffer(1)]],
                    constant count_args &a   [[buffer(2)]],
                    uint i                   [[thread_position_in_grid]])
{
    if (i < a.count) {
        x[i] += y[i];
    }
}

// argmax_better reports whether (v, i) beats (best, idx): a larger value,
// or the same value at a smaller index. NaN never beats anything.
inline bool argmax_better(float v, uint i, float best, uint idx) {
    return v > best || (v == best && i < idx);
}

// nonfinite is 1 if v is NaN or ±inf (its exponent bits all ones), else 0.
inline uint nonfinite(float v) {
    return (as_type<uint>(v) & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
}

// argmax_f32: one threadgroup per row. Thread k scans i = k, k+T, ...
// keeping the first largest value, then each simdgroup and finally
// simdgroup 0 reduce the (value, index) pairs with shuffles, keeping the
// larger value and the smaller index on ties. A row that holds NaN or ±inf
// gives −1 (the engine reports such logits as an error), as the cpu
// reference; a row with nothing above −inf gives 0 but cannot occur then.
kernel void argmax_f32(device const float *x  [[buffer(0)]],
                       device int *out        [[buffer(1)]],
                       constant argmax_args &a [[buffer(2)]],
                       uint row      [[threadgroup_position_in_grid]],
                       uint tid      [[thread_index_in_threadgroup]],
                       uint nthreads [[threads_per_threadgroup]],
                       uint lane     [[thread_index_in_simdgroup]],
                       uint sg       [[simdgroup_index_in_threadgroup]],
                       uint nsg      [[simdgroups_per_threadgroup]])
{
    threadgroup float bv[32];
    threadgroup uint bi[32];
    threadgroup uint bb[32];
    device const float *r = x + row * a.width;
    float best = -INFINITY;
    uint idx = 0xffffffffu;
    uint bad = 0;
    for (uint i = tid; i < a.width; i += nthreads) {
        float v = r[i];
        bad |= nonfinite(v);
        if (v > best) {
            best = v;
            idx = i;
        }
    }
    for (ushort off = 16; off > 0; off /= 2) {
        float ov = simd_shuffle_xor(best, off);
        uint oi = simd_shuffle_xor(idx, off);
        bad |= simd_shuffle_xor(bad, off);
        if (argmax_better(ov, oi, best, idx)) {
            best = ov;
            idx = oi;
        }
    }
    if (lane == 0) {
        bv[sg] = best;
        bi[sg] = idx;
        bb[sg] = bad;
    }
    threadgroup_barrier(mem_flags::mem_threadgroup);
    if (sg != 0) {
        return;
    }
    best = lane < nsg ? bv[lane] : -INFINITY;
    idx = lane < nsg ? bi[lane] : 0xffffffffu;
    bad = lane < nsg ? bb[lane] : 0u;
    for (ushort off = 16; off > 0; off /= 2) {
        float ov = simd_shuffle_xor(best, off);
        uint oi = simd_shuffle_xor(idx, off);
        bad |= simd_shuffle_xor(bad, off);
        if (argmax_better(ov, oi, best, idx)) {
            best = ov;
            idx = oi;
        }
    }
    if (lane == 0) {
        out[row] = bad != 0 ? -1 : idx == 0xffffffffu ? 0 : int(idx);
    }
}

// LLM_DT instantiates the templated kernels for one element type S (DT).
// Buffer indices follow each kernel's argument order; the Go side binds them
// in the same order.
#define LLM_DT(S, DT)                                                                              \
kernel void embed_##S(device const uchar *table [[buffer(0)]],                                     \
                      device const int *tokens  [[buffer(1)]],                                     \
                      device float *out         [[buffer(2)]],                                     \
                      constant embed_args &a    [[buffer(3)]],                                     \
                      uint2 gid                 [[thread_position_in_grid]])                       \
{                                                                                                  \
    embed<DT>(table, tokens, out, a, gid);                                                         \
}                                                                                                  \
kernel void rmsnorm_##S(device const uchar *w   [[buffer(0)]],                                     \
                        device const float *x   [[buffer(1)]],                                     \
                        device float *out       [[buffer(2)]],                                     \
                        constant rmsnorm_args &a [[buffer(3)]],                                    \
                        uint row      [[threadgroup_position_in_grid]],                            \
                        uint tid      [[thread_index_in_threadgroup]],                             \
                        uint nthreads [[threads_per_threadgroup]],                                 \
                        uint lane     [[thread_index_in_simdgroup]],                               \
                        uint sg       [[simdgroup_index_in_threadgroup]],                          \
                        uint nsg      [[simdgroups_per_threadgroup]])                              \
{                                                                                                  \
    threadgroup float part[33];                                                                    \
    rmsnorm<DT>(w, x, out, a, part, row, tid, nthreads, lane, sg, nsg);                            \
}                                                                                                  \
kernel void gemv_##S(device const uchar *W  [[buffer(0)]],                                         \
                     device const float *x  [[buffer(1)]],                                         \
                     device float *out      [[buffer(2)]],                                         \
                     constant gemv_args &a  [[buffer(3)]],                                         \
                     uint tg   [[threadgroup_position_in_grid]],                                   \
                     uint lane [[thread_index_in_simdgroup]],                                      \
                     uint sg   [[simdgroup_index_in_threadgroup]],                                 \
                     uint nsg  [[simdgroups_per_threadgroup]])                                     \
{                                                                                                  \
    gemv<DT>(W, x, out, a, tg, lane, sg, nsg);                                                     \
}                                                                                                  \
kernel void gemm_##S(device const uchar *W  [[buffer(0)]],                                         \
                     device const float *x  [[buffer(1)]],                                         \
                     device float *out      [[buffer(2)]],                                         \
                     constant gemm_args &a  [[buffer(3)]],                                         \
                     uint2 tgp [[threadgroup_position_in_grid]],                                   \
                     uint2 tid [[thread_position_in_threadgroup]])                                 \
{                                                                                                  \
    threadgroup float xs[16 * 17];                                                                 \
    threadgroup float ws[16 * 17];                                                                 \
    gemm<DT>(W, x, out, a, xs, ws, tgp, tid);                                                      \
}                                                                                                  \
kernel void kvstore_##S(device const float *src  [[buffer(0)]],                                    \
                        device uchar *dst        [[buffer(1)]],                                    \
                        constant kvstore_args &a [[buffer(2)]],                                    \
                        uint i                   [[thread_position_in_grid]])                      \
{                                                                                                  \
    kvstore<DT>(src, dst, a, i);                                                                   \
}                                                                                                  \
kernel void attention_##S(device const float *q      [[buffer(0)]],                                \
                          device const uchar *kc     [[buffer(1)]],                                \
                          device const uchar *vc     [[buffer(2)]],                                \
                          device float *out          [[buffer(3)]],                                \
                          constant attention_args &a [[buffer(4)]],                                \
                          uint2 tgp     [[threadgroup_position_in_grid]],                          \
                          uint tid      [[thread_index_in_threadgroup]],                           \
                          uint lane     [[thread_index_in_simdgroup]],                             \
                          uint sg       [[simdgroup_index_in_threadgroup]],                        \
                          uint nsg      [[simdgroups_per_threadgroup]])                            \
{                                                                                                  \
    threadgroup float qs[ATT_MAXD];                                                                \
    threadgroup float accs[ATT_SG * ATT_MAXD];                                                     \
    threadgroup float ms[ATT_SG];                                                                  \
    threadgroup float ls[ATT_SG];                                                                  \
    attention<DT>(q, kc, vc, out, a, qs, accs, ms, ls, tgp, tid, lane, sg, nsg);                   \
}

LLM_DT(bf16, DT_BF16)
LLM_DT(f16, DT_F16)
LLM_DT(f32, DT_F32)
