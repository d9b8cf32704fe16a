// Llama kernels for the cuda backend's device.LLMOps (runtime/device/cuda/llm*.go).
// Activations are float32; weights and KV caches are bf16, f16 or f32, named by
// a DT template parameter (0 = bf16, 1 = f16, 2 = f32) and instantiated as
// extern "C" kernels with a _bf16/_f16/_f32 suffix. No CUDA headers: the
// conversions are PTX, so NVRTC needs no include path.
//
// Semantics follow the cpu reference (runtime/device/cpu/llm_kernels.go):
// float32 arithmetic; exp, cos, sin and rsqrt through double, rounded once.

#define DT_BF16 0
#define DT_F16 1
#define DT_F32 2

typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define NEG_INF __uint_as_float(0xff800000u)  // −inf without math.h

__device__ __forceinline__ float bf2f(u16 h) { return __uint_as_float(((u32)h) << 16); }

__device__ __forceinline__ float h2f(u16 h) {
  float f;
  asm("{ .reg .b16 t; mov.b16 t, %1; cvt.f32.f16 %0, t; }" : "=f"(f) : "h"(h));
  return f;
}

// f2bf rounds to nearest even; NaN becomes 0x7FC0 as in the cpu backend.
__device__ __forceinline__ u16 f2bf(float f) {
  if (f != f) return 0x7FC0;
  u16 r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}

__device__ __forceinline__ u16 f2h(float f) {
  u16 r;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
}

// ld reads element i of a DT array as float.
template <int DT>
__device__ __forceinline__ float ld(const void* p, u64 i) {
  if (DT == DT_BF16) return bf2f(((const u16*)p)[i]);
  if (DT == DT_F16) return h2f(((const u16*)p)[i]);
  return ((const float*)p)[i];
}

// ld8 reads 8 consecutive elements starting at element 8*c (16-byte aligned
// for 2-byte types, 32-byte for f32) with vector loads through the read-only path.
template <int DT>
__device__ __forceinline__ void ld8(const void* p, u64 c, float w[8]) {
  if (DT == DT_F32) {
    float4 a = __ldg((const float4*)p + 2 * c), b = __ldg((const float4*)p + 2 * c + 1);
    w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w;
    w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
  } else {
    uint4 v = __ldg((const uint4*)p + c);
    u32 u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
      if (DT == DT_BF16) {
        w[2 * k] = __uint_as_float(u[k] << 16);
        w[2 * k + 1] = __uint_as_float(u[k] & 0xFFFF0000u);
      } else {
        w[2 * k] = h2f((u16)(u[k] & 0xFFFF));
        w[2 * k + 1] = h2f((u16)(u[k] >> 16));
      }
    }
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// embed: one block per token row t, threads striding over dim; out[t] =
// float(table[tokens[t]]). A token outside the table (the host has already
// refused it where it can read the ids) writes zeros: never a stray read.
template <int DT>
__device__ void embed(const void* table, const int* tokens, float* out, int vocab, int dim) {
  int t = blockIdx.x, id = tokens[t];
  float* o = out + (u64)t * dim;
  bool ok = id >= 0 && id < vocab;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = ok ? ld<DT>(table, (u64)id * dim + i) : 0.f;
}

// rmsnorm: one block per row (blockDim a multiple of 32, ≤ 1024); a block
// reduction of x² in float32, then out = w·(x·rsqrt(mean+eps)).
template <int DT>
__device__ void rmsnorm(const void* w, const float* x, float* out, int dim, float eps) {
  __shared__ float part[32];
  const float* xr = x + (u64)blockIdx.x * dim;
  float* orow = out + (u64)blockIdx.x * dim;
  float ss = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = warp_sum(ss);
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) part[warp] = ss;
  __syncthreads();
  if (warp == 0) {
    ss = lane < (int)(blockDim.x >> 5) ? part[lane] : 0.f;
    ss = warp_sum(ss);
    if (lane == 0) part[0] = ss;
  }
  __syncthreads();
  float inv = (float)(1.0 / sqrt((double)(part[0] / (float)dim + eps)));
  for (int i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = ld<DT>(w, i) * (xr[i] * inv);
}

// dot8 is Σ_k w[k]·x[8c+k], reading x as two float4 when aligned.
__device__ __forceinline__ float dot8(const float w[8], const float* x, int c, bool xvec) {
  const float* p = x + 8 * c;
  if (xvec) {
    float4 a = *(const float4*)p, b = *(const float4*)(p + 4);
    return w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
  }
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < 8; k++) s += w[k] * p[k];
  return s;
}

// gemv (decode Linear, n = 1): out[o] = Σ_i x[i]·W[o, i]. A block copies x
// into shared memory (when SMEM, for mapped memory where x crosses the bus;
// dynamic size 4·in bytes), or reads it through L1, then each warp
// takes whole rows, grid-striding: lane l reads the row's 16-byte chunks
// l, l+32, ... (coalesced 512-byte warp loads, four in flight per lane),
// accumulates in float32 and the warp reduces with shuffles. Rows whose
// length is not a multiple of 8 take a scalar path.
template <int DT, bool SMEM>
__device__ void gemv(const void* W, const float* x, float* out, int O, int I) {
  extern __shared__ float xs[];
  const float* xv = x;
  if (SMEM) {
    for (int i = threadIdx.x; i < I; i += blockDim.x) xs[i] = x[i];
    __syncthreads();
    xv = xs;
  }
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
  const int es = DT == DT_F32 ? 4 : 2;
  const bool xvec = ((u64)xv & 15) == 0;  // x readable as float4 (shared memory always is)
  for (int o = blockIdx.x * wpb + warp; o < O; o += gridDim.x * wpb) {
    const char* row = (const char*)W + (u64)o * I * es;
    float acc = 0.f;
    if ((I & 7) == 0) {
      const int chunks = I >> 3;
      int c = lane;
      for (; c + 96 < chunks; c += 128) {
        float w0[8], w1[8], w2[8], w3[8];
        ld8<DT>(row, c, w0);
        ld8<DT>(row, c + 32, w1);
        ld8<DT>(row, c + 64, w2);
        ld8<DT>(row, c + 96, w3);
        acc += dot8(w0, xv, c, xvec) + dot8(w1, xv, c + 32, xvec) + dot8(w2, xv, c + 64, xvec) + dot8(w3, xv, c + 96, xvec);
      }
      for (; c < chunks; c += 32) {
        float w0[8];
        ld8<DT>(row, c, w0);
        acc += dot8(w0, xv, c, xvec);
      }
    } else {
      for (int i = lane; i < I; i += 32) acc += ld<DT>(row, i) * xv[i];
    }
    acc = warp_sum(acc);
    if (lane == 0) out[o] = acc;
  }
}

// gemm_tiled (prefill Linear for f16/f32 weights, and any weights without
// cuBLAS): out[t, o] = Σ_i x[t, i]·W[o, i] with 16×16 shared-memory tiles;
// thread (tx, ty) of block (bx, by) computes out[by·16+ty, bx·16+tx].
template <int DT>
__device__ void gemm_tiled(const void* W, const float* x, float* out, int n, int O, int I) {
  __shared__ float xs[16][17];
  __shared__ float ws[16][17];
  int tx = threadIdx.x, ty = threadIdx.y;
  int t = blockIdx.y * 16 + ty, o = blockIdx.x * 16 + tx;
  int wo = blockIdx.x * 16 + ty;  // the weight row this thread loads
  float acc = 0.f;
  for (int k0 = 0; k0 < I; k0 += 16) {
    xs[ty][tx] = (t < n && k0 + tx < I) ? x[(u64)t * I + k0 + tx] : 0.f;
    ws[ty][tx] = (wo < O && k0 + tx < I) ? ld<DT>(W, (u64)wo * I + k0 + tx) : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 16; k++) acc += xs[ty][k] * ws[tx][k];
    __syncthreads();
  }
  if (t < n && o < O) out[(u64)t * O + o] = acc;
}

// split_bf16: x = hi + lo with hi = bf16(x), lo = bf16(x − hi), thread per
// element (grid-stride): the prefill GEMM runs on both halves so that bf16
// tensor cores see the activations to about 16 bits of mantissa.
extern "C" __global__ void split_bf16(const float* x, u16* hi, u16* lo, u64 count) {
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    float v = x[i];
    u16 h = f2bf(v);
    hi[i] = h;
    lo[i] = f2bf(v - bf2f(h));
  }
}

// rope: thread per (token t, head h, pair i < half), grid-stride over all;
// rotates (x[i], x[i+half]) by angle (pos+t)·invFreq[i] (a float32 product,
// cos and sin in double rounded to float, as the cpu reference).
extern "C" __global__ void rope_f32(float* x, const float* invFreq, int n, int heads, int headDim, int pos) {
  int half = headDim >> 1;
  u64 total = (u64)n * heads * half;
  for (u64 u = blockIdx.x * (u64)blockDim.x + threadIdx.x; u < total; u += (u64)gridDim.x * blockDim.x) {
    int i = (int)(u % half);
    u64 th = u / half;
    int t = (int)(th / heads);
    float a = (float)(pos + t) * invFreq[i];
    double s, c;
    sincos((double)a, &s, &c);
    float cf = (float)c, sf = (float)s;
    float* v = x + th * headDim;
    float x0 = v[i], x1 = v[i + half];
    v[i] = x0 * cf - x1 * sf;
    v[i + half] = x1 * cf + x0 * sf;
  }
}

// kvstore: thread per element (grid-stride); dst = convert(src).
template <int DT>
__device__ void kvstore(const float* src, void* dst, u64 count) {
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    float v = src[i];
    if (DT == DT_BF16) ((u16*)dst)[i] = f2bf(v);
    else if (DT == DT_F16) ((u16*)dst)[i] = f2h(v);
    else ((float*)dst)[i] = v;
  }
}

// attention: causal GQA, flash-decoding style. Block (4 warps) = 4
// consecutive query heads of one token t and one split s of the context
// (grid: x = split, y = head group of 4, z = token); warp w handles query
// head h = 4·y + w over cache rows [s·chunk, min((s+1)·chunk, pos+t+1)).
// Per 32 keys, lane l computes the score of key j0+l (its own K row, read
// whole), the warp takes the max and updates the online softmax; then lane l
// accumulates output dims l, l+32, ... from the 32 V rows (coalesced). With
// one split the warp writes out; otherwise it writes (m, l, acc) to part for
// attn_combine. Heads of one KV group share K and V rows through L1.
// headDim ≤ 256 (8 dims per lane). vec (the host checked 16-byte alignment
// of the caches and that headDim and the row width are multiples of 8)
// reads K rows with 16-byte loads.
template <int DT>
__device__ void attention(const float* q, const void* kc, const void* vc, float* out, float* part, int pos,
                          int heads, int kvHeads, int headDim, int chunk, int splits, float scale, int vec) {
  __shared__ float qs[4][256];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int t = blockIdx.z, s = blockIdx.x, h = blockIdx.y * 4 + warp;
  if (h >= heads) return;  // whole warp leaves; no block barrier follows
  const int group = heads / kvHeads, kvh = h / group, width = kvHeads * headDim;
  const float* qv = q + ((u64)t * heads + h) * headDim;
  for (int d = lane; d < headDim; d += 32) qs[warp][d] = qv[d];
  __syncwarp();
  const int ctx = pos + t + 1;
  const int j0 = s * chunk, j1 = min(ctx, j0 + chunk);
  float m = NEG_INF, l = 0.f;
  float acc[8];
#pragma unroll
  for (int k = 0; k < 8; k++) acc[k] = 0.f;
  const u64 kvoff = (u64)kvh * headDim;
  for (int jb = j0; jb < j1; jb += 32) {
    int j = jb + lane;
    float sc = NEG_INF;
    if (j < j1) {
      const u64 base = (u64)j * width + kvoff;
      float dot = 0.f;
      if (vec) {
        for (int c = 0; c < headDim / 8; c++) {
          float w[8];
          ld8<DT>(kc, base / 8 + c, w);
#pragma unroll
          for (int k = 0; k < 8; k++) dot += qs[warp][8 * c + k] * w[k];
        }
      } else {
        for (int d = 0; d < headDim; d++) dot += qs[warp][d] * ld<DT>(kc, base + d);
      }
      sc = dot * scale;
    }
    float mb = warp_max(sc);
    float mn = fmaxf(m, mb);
    float corr = expf(m - mn);  // m = -inf at first: corr = 0
    float p = j < j1 ? expf(sc - mn) : 0.f;
    l = l * corr + warp_sum(p);
#pragma unroll
    for (int k = 0; k < 8; k++) acc[k] *= corr;
    int nk = min(32, j1 - jb);
    for (int kk = 0; kk < nk; kk++) {
      float pk = __shfl_sync(0xffffffffu, p, kk);
      const u64 vb = (u64)(jb + kk) * width + kvoff;
#pragma unroll
      for (int k = 0; k < 8; k++) {
        int d = lane + 32 * k;
        if (d < headDim) acc[k] += pk * ld<DT>(vc, vb + d);
      }
    }
    m = mn;
  }
  if (splits == 1) {
    float* o = out + ((u64)t * heads + h) * headDim;
    float inv = 1.f / l;
#pragma unroll
    for (int k = 0; k < 8; k++) {
      int d = lane + 32 * k;
      if (d < headDim) o[d] = acc[k] * inv;
    }
    return;
  }
  // part layout: [t][h][s][headDim + 2]: acc, then m and l.
  float* pp = part + (((u64)t * heads + h) * splits + s) * (headDim + 2);
#pragma unroll
  for (int k = 0; k < 8; k++) {
    int d = lane + 32 * k;
    if (d < headDim) pp[d] = acc[k];
  }
  if (lane == 0) {
    pp[headDim] = m;
    pp[headDim + 1] = l;
  }
}

// attn_combine merges the splits of attention: block per (head h = x,
// token t = y), thread per output dim d; out = Σ_s e^(m_s−M)·acc_s / Σ_s e^(m_s−M)·l_s.
// Splits past a token's context have l = 0 and m = −inf and add nothing.
extern "C" __global__ void attn_combine(const float* part, float* out, int heads, int headDim, int splits) {
  int h = blockIdx.x, t = blockIdx.y;
  const float* pp = part + ((u64)t * heads + h) * splits * (headDim + 2);
  float M = NEG_INF;
  for (int s = 0; s < splits; s++) M = fmaxf(M, pp[s * (headDim + 2) + headDim]);
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
    float num = 0.f, den = 0.f;
    for (int s = 0; s < splits; s++) {
      const float* ps = pp + s * (headDim + 2);
      float l = ps[headDim + 1];
      if (l == 0.f) continue;
      float e = expf(ps[headDim] - M);
      num += e * ps[d];
      den += e * l;
    }
    out[((u64)t * heads + h) * headDim + d] = num / den;
  }
}

// swiglu: thread per element (grid-stride); out = silu(g)·up, silu in double.
extern "C" __global__ void swiglu_f32(const float* gate, const float* up, float* out, u64 count) {
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    double g = gate[i];
    out[i] = (float)(g / (1.0 + exp(-g))) * up[i];
  }
}

// add: thread per element (grid-stride); x += y.
extern "C" __global__ void add_f32(float* x, const float* y, u64 count) {
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) x[i] += y[i];
}

// argmax: one block (1024 threads) per row; each thread scans a strided
// slice keeping the first largest, then a shared-memory tree keeps the
// larger value, the smaller index on ties. NaN is never the largest; a row
// with no value above −inf gives 0, as the cpu reference.
extern "C" __global__ void argmax_f32(const float* x, int* out, int width) {
  __shared__ float bv[1024];
  __shared__ int bi[1024];
  const float* row = x + (u64)blockIdx.x * width;
  float best = NEG_INF;
  int idx = 0x7fffffff;
  for (int i = threadIdx.x; i < width; i += blockDim.x) {
    float v = row[i];
    if (v > best) best = v, idx = i;
  }
  bv[threadIdx.x] = best;
  bi[threadIdx.x] = idx;
  __syncthreads();
  for (int sft = blockDim.x >> 1; sft > 0; sft >>= 1) {
    if (threadIdx.x < sft) {
      float v = bv[threadIdx.x + sft];
      int i = bi[threadIdx.x + sft];
      if (v > bv[threadIdx.x] || (v == bv[threadIdx.x] && i < bi[threadIdx.x])) bv[threadIdx.x] = v, bi[threadIdx.x] = i;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = bi[0] == 0x7fffffff ? 0 : bi[0];
}

// The dtype instantiations, one extern "C" name per dtype.
#define LLM_DT(S, DT)                                                                                            \
  extern "C" __global__ void embed_##S(const void* table, const int* tokens, float* out, int vocab, int dim) {   \
    embed<DT>(table, tokens, out, vocab, dim);                                                                   \
  }                                                                                                              \
  extern "C" __global__ void rmsnorm_##S(const void* w, const float* x, float* out, int dim, float eps) {         \
    rmsnorm<DT>(w, x, out, dim, eps);                                                                            \
  }                                                                                                              \
  extern "C" __global__ void gemv_##S(const void* W, const float* x, float* out, int O, int I) {                 \
    gemv<DT, true>(W, x, out, O, I);                                                                             \
  }                                                                                                              \
  extern "C" __global__ void gemv_global_##S(const void* W, const float* x, float* out, int O, int I) {          \
    gemv<DT, false>(W, x, out, O, I);                                                                            \
  }                                                                                                              \
  extern "C" __global__ void gemm_##S(const void* W, const float* x, float* out, int n, int O, int I) {          \
    gemm_tiled<DT>(W, x, out, n, O, I);                                                                          \
  }                                                                                                              \
  extern "C" __global__ void kvstore_##S(const float* src, void* dst, u64 count) { kvstore<DT>(src, dst, count); } \
  extern "C" __global__ void attention_##S(const float* q, const void* kc, const void* vc, float* out, float* part, \
                                           int pos, int heads, int kvHeads, int headDim, int chunk, int splits,   \
                                           float scale, int vec) {                                               \
    attention<DT>(q, kc, vc, out, part, pos, heads, kvHeads, headDim, chunk, splits, scale, vec);                \
  }

LLM_DT(bf16, DT_BF16)
LLM_DT(f16, DT_F16)
LLM_DT(f32, DT_F32)
