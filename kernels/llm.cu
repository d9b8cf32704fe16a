// Llama kernels for the cuda backend's device.LLMOps (runtime/device/cuda/llm*.go).
// Activations are float32; weights and KV caches are bf16, f16 or f32, named by
// a DT template parameter (0 = bf16, 1 = f16, 2 = f32) and instantiated as
// extern "C" kernels with a _bf16/_f16/_f32 suffix. Attention is in
// attention.cu; both share llm_common.cuh.
//
// Semantics follow the cpu reference (runtime/device/cpu/llm_kernels.go):
// float32 arithmetic; exp, cos, sin and rsqrt through double, rounded once.

#include "llm_common.cuh"

// embed: one block per token row t, threads striding over dim; out[t] =
// float(table[tokens[t]]). A token outside the table (the host has already
// refused it where it can read the ids) writes zeros: never a stray read.
template <int DT>
__device__ void embed(const void* table, const int* tokens, float* out, int vocab, int dim) {
  pdl_wait();
  pdl_launch();
  int t = blockIdx.x, id = tokens[t];
  float* o = out + (u64)t * dim;
  bool ok = id >= 0 && id < vocab;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = ok ? ld<DT>(table, (u64)id * dim + i) : 0.f;
}

// put stores v as an output element: float32 as is, bf16 rounded to
// nearest even.
__device__ __forceinline__ void put(float* p, int i, float v) { p[i] = v; }
__device__ __forceinline__ void put(u16* p, int i, float v) { p[i] = f2bf(v); }

// rmsnorm: one block per row (blockDim a multiple of 32, ≤ 1024); a block
// reduction of x² in float32, then out = w·(x·rsqrt(mean+eps)). With a bf16
// out (rmsnorm_to_bf16_*) it is the input of a prefill NormLinear's or
// NormGLU's GEMMs in one pass, instead of a float32 row and a conversion.
template <int DT, typename OUT>
__device__ void rmsnorm(const void* w, const float* x, OUT* out, int dim, float eps) {
  pdl_wait();
  pdl_launch();
  __shared__ float part[32];
  const float* xr = x + (u64)blockIdx.x * dim;
  OUT* orow = out + (u64)blockIdx.x * dim;
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
  for (int i = threadIdx.x; i < dim; i += blockDim.x) put(orow, i, ld<DT>(w, i) * (xr[i] * inv));
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

// st writes v to element i of a DT array, rounding to nearest even.
template <int DT>
__device__ __forceinline__ void st(void* p, u64 i, float v) {
  if (DT == DT_BF16) ((u16*)p)[i] = f2bf(v);
  else if (DT == DT_F16) ((u16*)p)[i] = f2h(v);
  else ((float*)p)[i] = v;
}

// in8 reads the 8 input values of chunk c: x[8c..8c+7] (as two float4
// when xvec). With a norm weight g it adds their squares to ss and returns
// g·x: RMSNorm's output before the scale rsqrt(mean(x²)+eps), which
// row_dot applies to the sum (see row_dot).
template <int DT>
__device__ __forceinline__ void in8(const float* x, const void* g, int c, bool xvec, float v[8], float& ss) {
  const float* p = x + 8 * c;
  if (xvec) {
    float4 a = *(const float4*)p, b = *(const float4*)(p + 4);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
  } else {
#pragma unroll
    for (int k = 0; k < 8; k++) v[k] = p[k];
  }
  if (g) {
    float gw[8];
    ld8<DT>(g, c, gw);
#pragma unroll
    for (int k = 0; k < 8; k++) {
      ss += v[k] * v[k];
      v[k] *= gw[k];
    }
  }
}

// dotv is Σ_k w[k]·v[k] in dot8's order.
__device__ __forceinline__ float dotv(const float w[8], const float v[8]) {
  return w[0] * v[0] + w[1] * v[1] + w[2] * v[2] + w[3] * v[3] + w[4] * v[4] + w[5] * v[5] + w[6] * v[6] + w[7] * v[7];
}

// row_dot returns Σ_i W[row, i]·x[i] to every lane of the warp. With a norm
// weight g it returns the same over RMSNorm's output, computed as
// rsqrt(mean(x²)+eps)·Σ_i W[row, i]·g[i]·x[i]: the scale is one number per
// token, so it factors out of the sum, and the warp reads every element of
// x anyway, so it sums the squares as it goes. A fused norm thus costs no
// pass, barrier or kernel of its own. Lane l reads the row's 16-byte chunks
// l, l+32, ... (coalesced 512-byte warp loads, eight in flight per lane,
// then four) and accumulates in float32; the warp reduces with shuffles.
// Rows whose length is not a multiple of 8 take a scalar path.
template <int DT>
__device__ __forceinline__ float row_dot(const char* row, const float* xv, const void* g, float eps, int I, int lane, bool xvec) {
  float acc = 0.f, ss = 0.f;
  if ((I & 7) == 0) {
    const int chunks = I >> 3;
    int c = lane;
    for (; c + 224 < chunks; c += 256) {
      // Eight chunks in flight (a whole row of 2048 2-byte weights), kept
      // raw until used: 4 registers a chunk for 2-byte weights.
      chunk8 k[8];
#pragma unroll
      for (int j = 0; j < 8; j++) k[j] = ldc<DT>(row, c + 32 * j);
      float w[8], v[8], s = 0.f;
#pragma unroll
      for (int j = 0; j < 7; j++) {
        cvt<DT>(k[j], w);
        in8<DT>(xv, g, c + 32 * j, xvec, v, ss);
        s += dotv(w, v);
      }
      cvt<DT>(k[7], w);
      in8<DT>(xv, g, c + 224, xvec, v, ss);
      acc += s + dotv(w, v);
    }
    for (; c + 96 < chunks; c += 128) {
      chunk8 k0 = ldc<DT>(row, c), k1 = ldc<DT>(row, c + 32), k2 = ldc<DT>(row, c + 64), k3 = ldc<DT>(row, c + 96);
      float w[8], v[8], s = 0.f;
      cvt<DT>(k0, w);
      in8<DT>(xv, g, c, xvec, v, ss);
      s += dotv(w, v);
      cvt<DT>(k1, w);
      in8<DT>(xv, g, c + 32, xvec, v, ss);
      s += dotv(w, v);
      cvt<DT>(k2, w);
      in8<DT>(xv, g, c + 64, xvec, v, ss);
      s += dotv(w, v);
      cvt<DT>(k3, w);
      in8<DT>(xv, g, c + 96, xvec, v, ss);
      acc += s + dotv(w, v);
    }
    for (; c < chunks; c += 32) {
      float w0[8], v[8];
      ld8<DT>(row, c, w0);
      in8<DT>(xv, g, c, xvec, v, ss);
      acc += dotv(w0, v);
    }
  } else {
    for (int i = lane; i < I; i += 32) {
      float xi = xv[i];
      if (g) {
        ss += xi * xi;
        xi *= ld<DT>(g, i);
      }
      acc += ld<DT>(row, i) * xi;
    }
  }
  acc = warp_sum(acc);
  if (!g) return acc;
  ss = warp_sum(ss);
  return acc * (float)(1.0 / sqrt((double)(ss / (float)I + eps)));
}

// The modes of gemv_fused.
#define FUSED_STORE 0  // outs[m][r] = W_m[r]·x for the rows of W0, W1, W2 in turn
#define FUSED_ADD 1    // as STORE, but outs[m][r] += W_m[r]·x (a residual add)
#define FUSED_GLU 2    // out0[r] = silu(W0[r]·x)·(W1[r]·x) (gate and up), silu in double

// fused_row maps gemv_fused's row number *r to a matrix, 0 (W0), 1 (W1)
// or 2 (W2), which it returns, and the row in it, left in *r. In FUSED_GLU,
// row 2p is gate row p (W0) and 2p+1 up row p (W1).
__device__ __forceinline__ int fused_row(int mode, int r0, int r1, int* r) {
  if (mode == FUSED_GLU) {
    const int o = *r;
    *r = o >> 1;
    return o & 1;
  }
  if (*r < r0) return 0;
  *r -= r0;
  if (*r < r1) return 1;
  *r -= r1;
  return 2;
}

// gemv_fused is the decode (n = 1) kernel of Linear and of the fused ops
// (device.FusedLLMOps): one projection (Linear), up to three of one input
// in one launch (NormLinear's q, k, v), a projection added into the residual (LinearAdd), or gate and up
// with SwiGLU (NormGLU). With a norm weight g the input is RMSNorm(x)·g,
// which row_dot folds into each row's pass over x, so no rmsnorm kernel
// runs. Rows are numbered across the matrices (in FUSED_GLU, 2p is gate
// row p and 2p+1 up row p: fused_row); warps take whole rows,
// grid-striding, and read x from shared memory (SMEM: staged once per
// block) or through L1. In FUSED_GLU the two warps of a pair meet in
// shared memory and the gate's warp writes silu(gate)·up, so blockDim.x is
// a multiple of 64.
template <int DT, bool SMEM>
__device__ void gemv_fused(const void* W0, const void* W1, const void* W2, float* o0, float* o1, float* o2,
                           int r0, int r1, int r2, int I, const float* x, const void* g, float eps, int mode) {
  extern __shared__ float xs[];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
  const int es = DT == DT_F32 ? 4 : 2;
  const u64 rowBytes = (u64)I * es;
  const int rows = mode == FUSED_GLU ? 2 * r0 : r0 + r1 + r2;
  pdl_wait();
  pdl_launch();
  const float* xv = x;
  if (SMEM) {
    // Stage x once per block; with a norm, stage RMSNorm's output itself
    // (the block reduces Σx² while staging), so that the rows read plain
    // floats as gemv's do: the tall lm_head runs at gemv's speed.
    float ss = 0.f;
    for (int i = threadIdx.x; i < I; i += blockDim.x) {
      float v = x[i];
      xs[i] = v;
      ss += v * v;
    }
    if (g) {
      __shared__ float part[32];
      ss = warp_sum(ss);
      if (lane == 0) part[warp] = ss;
      __syncthreads();
      if (warp == 0) {
        ss = lane < wpb ? part[lane] : 0.f;
        ss = warp_sum(ss);
        if (lane == 0) part[0] = ss;
      }
      __syncthreads();
      const float inv = (float)(1.0 / sqrt((double)(part[0] / (float)I + eps)));
      for (int i = threadIdx.x; i < I; i += blockDim.x) xs[i] = ld<DT>(g, i) * (xs[i] * inv);
      g = 0;
    }
    __syncthreads();
    xv = xs;
  }
  const bool xvec = ((u64)xv & 15) == 0;
  if (mode == FUSED_GLU) {
    // Uniform trip count over the block: the pair exchange needs barriers.
    __shared__ float pair[32];
    for (int base = blockIdx.x * wpb; base < rows; base += gridDim.x * wpb) {
      const int o = base + warp, p = o >> 1;
      float d = 0.f;
      if (o < rows) d = row_dot<DT>((const char*)((o & 1) ? W1 : W0) + p * rowBytes, xv, g, eps, I, lane, xvec);
      if (lane == 0) pair[warp] = d;
      __syncthreads();
      if (o < rows && (o & 1) == 0 && lane == 0) {
        double gd = d;
        o0[p] = (float)(gd / (1.0 + exp(-gd))) * pair[warp + 1];
      }
      __syncthreads();
    }
    return;
  }
  for (int o = blockIdx.x * wpb + warp; o < rows; o += gridDim.x * wpb) {
    int r = o;
    const int mi = fused_row(mode, r0, r1, &r);
    float acc = row_dot<DT>((const char*)(mi == 0 ? W0 : mi == 1 ? W1 : W2) + r * rowBytes, xv, g, eps, I, lane, xvec);
    if (lane == 0) {
      float* out = (mi == 0 ? o0 : mi == 1 ? o1 : o2) + r;
      *out = mode == FUSED_ADD ? *out + acc : acc;
    }
  }
}

// rope_pair rotates (v[i], v[i+half]) by the angle p·f (a float32
// product; its cos and sin in double, rounded to float), as the cpu
// reference and Hugging Face's rotate-half pairing do.
__device__ __forceinline__ void rope_pair(float* v, int i, int half, int p, float f) {
  float a = (float)p * f;
  double s, c;
  sincos((double)a, &s, &c);
  float cf = (float)c, sf = (float)s;
  float x0 = v[i], x1 = v[i + half];
  v[i] = x0 * cf - x1 * sf;
  v[i + half] = x1 * cf + x0 * sf;
}

// rope_kv: RoPE on q and k, and k and v appended to the caches, in one
// launch (device.FusedLLMOps.RoPEKV). Thread per work item, grid-striding
// over n·heads·half q pairs, then n·kvHeads·half k pairs (rotated in place
// and stored to the cache), then n·kvHeads·headDim v elements. Token t is
// at position P+t, P = run_pos(posp, pos), and goes to row P+t−rowBase of
// kc and vc, whose rows are kvHeads·headDim wide: a per-op launch passes
// the rows it stores (rowBase = pos), a graph's the whole caches (rowBase
// 0) and P from its parameter block. Rotation: rope_pair.
template <int DT>
__device__ void rope_kv(float* q, float* k, const float* v, const float* invFreq, void* kc, void* vc, int n,
                        int pos, const int* posp, int rowBase, int heads, int kvHeads, int headDim) {
  pdl_wait();
  pdl_launch();
  const int P = run_pos(posp, pos);
  const int half = headDim >> 1, width = kvHeads * headDim;
  const u64 row0 = (u64)(P - rowBase) * width;  // element offset of token 0's cache row
  const u64 nq = (u64)n * heads * half, nk = (u64)n * kvHeads * half, nv = (u64)n * width;
  for (u64 u = blockIdx.x * (u64)blockDim.x + threadIdx.x; u < nq + nk + nv; u += (u64)gridDim.x * blockDim.x) {
    if (u >= nq + nk) {
      u64 r = u - nq - nk;
      st<DT>(vc, row0 + r, v[r]);  // v is [n, width], as the cache rows from P
      continue;
    }
    const bool isK = u >= nq;
    const u64 r = isK ? u - nq : u;
    const int hs = isK ? kvHeads : heads;
    const int i = (int)(r % half);
    const u64 th = r / half;  // token t = th / hs, head th % hs
    const int t = (int)(th / hs);
    float* x = (isK ? k : q) + th * headDim;
    rope_pair(x, i, half, P + t, invFreq[i]);
    if (isK) {
      st<DT>(kc, row0 + th * headDim + i, x[i]);  // th·headDim = t·width + h·headDim
      st<DT>(kc, row0 + th * headDim + i + half, x[i + half]);
    }
  }
}

// gemm_tiled (prefill Linear for f16/f32 weights, and any weights without
// cuBLAS): out[t, o] = Σ_i x[t, i]·W[o, i] with 16×16 shared-memory tiles;
// thread (tx, ty) of block (bx, by) computes out[by·16+ty, bx·16+tx].
template <int DT>
__device__ void gemm_tiled(const void* W, const float* x, float* out, int n, int O, int I) {
  pdl_wait();
  pdl_launch();
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
  pdl_wait();
  pdl_launch();
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    float v = x[i];
    u16 h = f2bf(v);
    hi[i] = h;
    lo[i] = f2bf(v - bf2f(h));
  }
}

// to_bf16: y = bf16(x) (one rounding, to nearest even), thread per element
// (grid-stride): a prefill GEMM's activations as the tensor cores take them
// when one rounding is enough (runtime/device/cuda/llm_linear.go).
extern "C" __global__ void to_bf16(const float* x, u16* y, u64 count) {
  pdl_wait();
  pdl_launch();
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    y[i] = f2bf(x[i]);
  }
}

// rope: thread per (token t, head h, pair i < half), grid-stride over all;
// rotates (x[i], x[i+half]) by angle (P+t)·invFreq[i], P = run_pos(posp,
// pos) (a float32 product, cos and sin in double rounded to float, as the
// cpu reference).
extern "C" __global__ void rope_f32(float* x, const float* invFreq, int n, int heads, int headDim, int pos,
                                    const int* posp) {
  pdl_wait();
  pdl_launch();
  const int P = run_pos(posp, pos);
  int half = headDim >> 1;
  u64 total = (u64)n * heads * half;
  for (u64 u = blockIdx.x * (u64)blockDim.x + threadIdx.x; u < total; u += (u64)gridDim.x * blockDim.x) {
    int i = (int)(u % half);
    u64 th = u / half;
    int t = (int)(th / heads);
    rope_pair(x + th * headDim, i, half, P + t, invFreq[i]);
  }
}

// kvstore: thread per element (grid-stride); row t of src, converted, to
// row P+t−rowBase of dst, P = run_pos(posp, pos) (as rope_kv's rows).
template <int DT>
__device__ void kvstore(const float* src, void* dst, int n, int width, int pos, const int* posp, int rowBase) {
  pdl_wait();
  pdl_launch();
  const u64 row0 = (u64)(run_pos(posp, pos) - rowBase) * width, count = (u64)n * width;
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    st<DT>(dst, row0 + i, src[i]);
  }
}

// swiglu: thread per element (grid-stride); out = silu(g)·up, silu in double.
extern "C" __global__ void swiglu_f32(const float* gate, const float* up, float* out, u64 count) {
  pdl_wait();
  pdl_launch();
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) {
    double g = gate[i];
    out[i] = (float)(g / (1.0 + exp(-g))) * up[i];
  }
}

// add: thread per element (grid-stride); x += y.
extern "C" __global__ void add_f32(float* x, const float* y, u64 count) {
  pdl_wait();
  pdl_launch();
  for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < count; i += (u64)gridDim.x * blockDim.x) x[i] += y[i];
}

// amax_reduce leaves in bv[0], bi[0] the largest of the block's (best, idx)
// pairs, the smaller index on ties; blockDim.x is a power of two ≤ 1024 and
// bv, bi hold blockDim.x entries.
__device__ void amax_reduce(float best, int idx, float* bv, int* bi) {
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
}

// NONFINITE reports whether v is NaN or ±inf: its exponent bits are all ones.
#define NONFINITE(v) ((__float_as_uint(v) & 0x7f800000u) == 0x7f800000u)

// ARGMAX_BAD is argmax_part's index for a part that saw NaN or ±inf.
#define ARGMAX_BAD (-2)

// argmax_scan: the block's threads scan row[i] for i = start, start + step,
// … < width, each keeping its first largest, then amax_reduce leaves the
// block's largest in bv[0], bi[0] (index 0x7fffffff if none is above −inf).
// It returns, to every thread, whether any of them saw NaN or ±inf.
__device__ int argmax_scan(const float* row, int width, int start, int step, float* bv, int* bi) {
  float best = NEG_INF;
  int idx = 0x7fffffff, bad = 0;
  // Not unrolled, as the two kernels' own loops compiled before they shared
  // this one (unrolled, ptxas gives them 32 registers; not measured on a GPU).
#pragma unroll 1
  for (int i = start; i < width; i += step) {
    float v = row[i];
    bad |= NONFINITE(v);
    if (v > best) best = v, idx = i;
  }
  bad = __syncthreads_or(bad);
  amax_reduce(best, idx, bv, bi);
  return bad;
}

// argmax: one block (1024 threads) per row; each thread scans a strided
// slice keeping the first largest, then amax_reduce. A row that holds NaN or
// ±inf gives −1 (the engine reports such logits as an error), as the cpu
// reference; a row with no value above −inf gives 0 but cannot occur then.
extern "C" __global__ void argmax_f32(const float* x, int* out, int width) {
  pdl_wait();
  pdl_launch();
  __shared__ float bv[1024];
  __shared__ int bi[1024];
  int bad = argmax_scan(x + (u64)blockIdx.x * width, width, threadIdx.x, blockDim.x, bv, bi);
  if (threadIdx.x == 0) out[blockIdx.x] = bad ? -1 : bi[0] == 0x7fffffff ? 0 : bi[0];
}

// argmax_part is the first half of argmax over a wide row (a vocabulary):
// block b of row r (grid x = parts, y = rows, 256 threads) scans elements
// b·256 + t, stepping parts·256, and writes its largest (value, index) to
// pv, pi[r·parts + b] (index 0x7fffffff if it saw nothing above −inf,
// ARGMAX_BAD if it saw NaN or ±inf).
extern "C" __global__ void argmax_part_f32(const float* x, float* pv, int* pi, int width) {
  pdl_wait();
  pdl_launch();
  __shared__ float bv[256];
  __shared__ int bi[256];
  int bad = argmax_scan(x + (u64)blockIdx.y * width, width, blockIdx.x * blockDim.x + threadIdx.x,
                        gridDim.x * blockDim.x, bv, bi);
  if (threadIdx.x == 0) {
    pv[(u64)blockIdx.y * gridDim.x + blockIdx.x] = bad ? NEG_INF : bv[0];
    pi[(u64)blockIdx.y * gridDim.x + blockIdx.x] = bad ? ARGMAX_BAD : bi[0];
  }
}

// argmax_final reduces argmax_part's parts: one block (1024 threads) per row;
// a row with a part that saw NaN or ±inf gives −1.
extern "C" __global__ void argmax_final_f32(const float* pv, const int* pi, int* out, int parts) {
  pdl_wait();
  pdl_launch();
  __shared__ float bv[1024];
  __shared__ int bi[1024];
  float best = NEG_INF;
  int idx = 0x7fffffff, bad = 0;
  for (int p = threadIdx.x; p < parts; p += blockDim.x) {
    float v = pv[(u64)blockIdx.x * parts + p];
    int i = pi[(u64)blockIdx.x * parts + p];
    bad |= i == ARGMAX_BAD;
    if (v > best || (v == best && i < idx)) best = v, idx = i;
  }
  bad = __syncthreads_or(bad);
  amax_reduce(best, idx, bv, bi);
  if (threadIdx.x == 0) out[blockIdx.x] = bad ? -1 : bi[0] == 0x7fffffff ? 0 : bi[0];
}

// The dtype instantiations, one extern "C" name per dtype.
#define LLM_DT(S, DT)                                                                                            \
  extern "C" __global__ void embed_##S(const void* table, const int* tokens, float* out, int vocab, int dim) {   \
    embed<DT>(table, tokens, out, vocab, dim);                                                                   \
  }                                                                                                              \
  extern "C" __global__ void rmsnorm_##S(const void* w, const float* x, float* out, int dim, float eps) {        \
    rmsnorm<DT, float>(w, x, out, dim, eps);                                                                     \
  }                                                                                                              \
  extern "C" __global__ void gemv_fused_##S(const void* W0, const void* W1, const void* W2, float* o0, float* o1, \
                                            float* o2, int r0, int r1, int r2, int I, const float* x, const void* g, \
                                            float eps, int mode) {                                               \
    gemv_fused<DT, false>(W0, W1, W2, o0, o1, o2, r0, r1, r2, I, x, g, eps, mode);                               \
  }                                                                                                              \
  extern "C" __global__ void gemv_fused_smem_##S(const void* W0, const void* W1, const void* W2, float* o0,      \
                                                 float* o1, float* o2, int r0, int r1, int r2, int I,            \
                                                 const float* x, const void* g, float eps, int mode) {           \
    gemv_fused<DT, true>(W0, W1, W2, o0, o1, o2, r0, r1, r2, I, x, g, eps, mode);                                \
  }                                                                                                              \
  extern "C" __global__ void rope_kv_##S(float* q, float* k, const float* v, const float* invFreq, void* kc,     \
                                         void* vc, int n, int pos, const int* posp, int rowBase, int heads,      \
                                         int kvHeads, int headDim) {                                             \
    rope_kv<DT>(q, k, v, invFreq, kc, vc, n, pos, posp, rowBase, heads, kvHeads, headDim);                       \
  }                                                                                                              \
  extern "C" __global__ void rmsnorm_to_bf16_##S(const void* w, const float* x, u16* out, int dim, float eps) {  \
    rmsnorm<DT, u16>(w, x, out, dim, eps);                                                                       \
  }                                                                                                              \
  extern "C" __global__ void gemm_##S(const void* W, const float* x, float* out, int n, int O, int I) {          \
    gemm_tiled<DT>(W, x, out, n, O, I);                                                                          \
  }                                                                                                              \
  extern "C" __global__ void kvstore_##S(const float* src, void* dst, int n, int width, int pos, const int* posp, \
                                         int rowBase) {                                                          \
    kvstore<DT>(src, dst, n, width, pos, posp, rowBase);                                                         \
  }

LLM_DT(bf16, DT_BF16)
LLM_DT(f16, DT_F16)
LLM_DT(f32, DT_F32)
