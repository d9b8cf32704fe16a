// Attention kernels for the cuda backend's device.LLMOps.Attention
// (runtime/device/cuda/llm_attention.go): causal grouped-query attention of
// n query tokens at positions P..P+n-1 over cache rows 0..P+n-1, where
// P = run_pos(posp, pos). Query head h reads KV head h/(heads/kvHeads).
//
//   - attn_decode_<dt>_<hd>: decode and short passes, bf16/f16 caches,
//     headDim 64 or 128: flash-decoding, each block one KV head's group of
//     query heads over one split of the context, its keys and values staged
//     in shared memory by coalesced 16-byte loads issued all at once.
//   - attn_prefill_<dt>: prefill passes (n ≥ 16), bf16/f16 caches, headDim
//     64: flash attention on tensor cores (mma.sync m16n8k16), queries and
//     probabilities split into two 16-bit halves so that the products keep
//     about 16 bits of mantissa; float32 accumulation and softmax.
//   - attention_<dt>: any shape the others do not take (f32 caches, other
//     head sizes, unaligned operands), on CUDA cores.
//
// The split kernels (decode, generic) cover the context with `splits`
// chunks whose length attn_chunk computes from P on the device, so a graph
// recorded once runs at every position; a token whose context fits one
// chunk is written by its block directly, the others through attn_combine.

#include "llm_common.cuh"

// attn_chunk is the cache rows each split takes when a pass's last token
// sees ctxMax rows: ceil(ctxMax/splits) rounded up to align, at least
// minChunk. splits·chunk ≥ ctxMax, so the splits cover every token's
// context; a token with ctx rows has ceil(ctx/chunk) non-empty splits.
// The host mirrors it (attentionChunk, llm_attention.go).
__device__ __forceinline__ int attn_chunk(int ctxMax, int splits, int align, int minChunk) {
  int c = (ctxMax + splits - 1) / splits;
  c = (c + align - 1) / align * align;
  return c > minChunk ? c : minChunk;
}

// part_at is the partial result of split s for token t, head h: headDim
// accumulated outputs, then the running max m and the sum l.
__device__ __forceinline__ float* part_at(float* part, int t, int h, int s, int heads, int splits, int headDim) {
  return part + (((u64)t * heads + h) * splits + s) * (headDim + 2);
}

// attention (generic): block (4 warps) = 4 consecutive query heads of one
// token t and one split s of the context (grid: x = split, y = head group
// of 4, z = token); warp w handles query head h = 4·y + w over cache rows
// [s·chunk, min((s+1)·chunk, P+t+1)). Per 32 keys, lane l computes the
// score of key j0+l (its own K row, read whole), the warp takes the max
// and updates the online softmax; then lane l accumulates output dims l,
// l+32, ... from the 32 V rows (coalesced; a whole batch's V loads are
// issued at once, so a batch costs one memory latency, not 32). Heads of
// one KV group share K and V rows through L1. headDim ≤ 256 (8 dims per
// lane). vec (the host checked 16-byte alignment of the caches and that
// headDim and the row width are multiples of 8) reads K rows with 16-byte
// loads. Chunks are multiples of 32 rows, at least minChunk.
template <int DT>
__device__ void attention(const float* q, const void* kc, const void* vc, float* out, float* part, const int* posp,
                          int pos, int n, int heads, int kvHeads, int headDim, int splits, int minChunk, float scale,
                          int vec) {
  pdl_wait();
  pdl_launch();
  __shared__ float qs[4][256];
  const int P = run_pos(posp, pos);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int t = blockIdx.z, s = blockIdx.x, h = blockIdx.y * 4 + warp;
  const int ctx = P + t + 1, chunk = attn_chunk(P + n, splits, 32, minChunk);
  const int j0 = s * chunk, j1 = min(ctx, j0 + chunk);
  if (h >= heads || j0 >= ctx) return;  // whole warps leave; no block barrier follows
  const bool single = ctx <= chunk;
  const int group = heads / kvHeads, kvh = h / group, width = kvHeads * headDim;
  const float* qv = q + ((u64)t * heads + h) * headDim;
  for (int d = lane; d < headDim; d += 32) qs[warp][d] = qv[d];
  __syncwarp();
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
#pragma unroll 8
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
    const int nk = min(32, j1 - jb);
    if (nk == 32 && headDim <= 64) {
      // A full batch at headDim ≤ 64: 64 independent loads, then the sums.
      float vv[32][2];
#pragma unroll
      for (int kk = 0; kk < 32; kk++) {
        const u64 vb = (u64)(jb + kk) * width + kvoff;
#pragma unroll
        for (int k = 0; k < 2; k++) vv[kk][k] = lane + 32 * k < headDim ? ld<DT>(vc, vb + lane + 32 * k) : 0.f;
      }
#pragma unroll
      for (int kk = 0; kk < 32; kk++) {
        float pk = __shfl_sync(0xffffffffu, p, kk);
        acc[0] += pk * vv[kk][0];
        acc[1] += pk * vv[kk][1];
      }
    } else {
#pragma unroll 4
      for (int kk = 0; kk < nk; kk++) {
        float pk = __shfl_sync(0xffffffffu, p, kk);
        const u64 vb = (u64)(jb + kk) * width + kvoff;
#pragma unroll
        for (int k = 0; k < 8; k++) {
          int d = lane + 32 * k;
          if (d < headDim) acc[k] += pk * ld<DT>(vc, vb + d);
        }
      }
    }
    m = mn;
  }
  if (single) {
    float* o = out + ((u64)t * heads + h) * headDim;
    float inv = 1.f / l;
#pragma unroll
    for (int k = 0; k < 8; k++) {
      int d = lane + 32 * k;
      if (d < headDim) o[d] = acc[k] * inv;
    }
    return;
  }
  float* pp = part_at(part, t, h, s, heads, splits, headDim);
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

// cvt2 widens the two 2-byte elements of a 32-bit word (the lower address
// in the low half).
template <int DT>
__device__ __forceinline__ void cvt2(u32 w, float& a, float& b) {
  if (DT == DT_BF16) {
    a = __uint_as_float(w << 16);
    b = __uint_as_float(w & 0xFFFF0000u);
  } else {
    a = h2f((u16)(w & 0xFFFF));
    b = h2f((u16)(w >> 16));
  }
}

// attn_decode: flash-decoding for 2-byte caches and headDim HD (64 or 128).
// Block (128 threads) = KV head g (grid y) of token t (grid z) over split s
// (grid x) of the context: the G = heads/kvHeads query heads that read KV
// head g (G ≤ 8: warp w takes heads w and w+4). Per tile of TILE = 4096/HD
// keys the block loads the tile's K and V rows (8 KiB each) with 16-byte
// loads, all issued before the first is stored to shared memory (one
// memory latency per tile), then each warp scores the tile's keys for its
// heads (lane l: keys l and l+32, K rows read from shared memory, padded by
// 16 bytes so that a quarter-warp's 16-byte reads hit distinct banks),
// updates its online softmax and accumulates V (lane l: output dims
// l·HD/32 .. l·HD/32+HD/32−1, a contiguous 4- or 8-byte read per key).
// Chunks are multiples of TILE, at least one tile. Shared memory, dynamic:
// G·HD floats of queries, TILE·(2·HD+16) bytes of K, TILE·2·HD of V.
template <int DT, int HD>
__device__ void attn_decode(const float* q, const void* kc, const void* vc, float* out, float* part, const int* posp,
                            int pos, int n, int heads, int kvHeads, int splits, float scale) {
  const int TILE = 4096 / HD;         // keys per tile
  const int KROW = 2 * HD + 16;       // bytes per K row in shared memory
  const int VROW = 2 * HD;            // bytes per V row
  const int CH = HD / 8;              // 16-byte chunks per row
  const int LOADS = TILE * CH / 128;  // chunks of K (and of V) per thread per tile
  const int DPL = HD / 32;            // output dims per lane
  const int SPL = TILE / 32;          // keys per lane per tile
  extern __shared__ __align__(16) unsigned char smem[];
  pdl_wait();
  pdl_launch();
  const int P = run_pos(posp, pos);
  const int t = blockIdx.z, s = blockIdx.x, g = blockIdx.y;
  const int ctx = P + t + 1, chunk = attn_chunk(P + n, splits, TILE, TILE);
  const int j0 = s * chunk, j1 = min(ctx, j0 + chunk);
  if (j0 >= ctx) return;  // the whole block: an empty split
  const bool single = ctx <= chunk;
  const int G = heads / kvHeads, width = kvHeads * HD;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float* qs = (float*)smem;
  unsigned char* ks = smem + G * HD * 4;
  unsigned char* vs = ks + TILE * KROW;
  const float* qg = q + ((u64)t * heads + (u64)g * G) * HD;
  for (int i = threadIdx.x; i < G * HD; i += blockDim.x) qs[i] = qg[i];
  float m[2], l[2], acc[2][DPL];
#pragma unroll
  for (int k = 0; k < 2; k++) {
    m[k] = NEG_INF;
    l[k] = 0.f;
#pragma unroll
    for (int d = 0; d < DPL; d++) acc[k][d] = 0.f;
  }
  const u16* kg = (const u16*)kc + (u64)g * HD;
  const u16* vg = (const u16*)vc + (u64)g * HD;
  for (int jt = j0; jt < j1; jt += TILE) {
    const int nk = min(TILE, j1 - jt);
    uint4 kr[LOADS], vr[LOADS];
#pragma unroll
    for (int c = 0; c < LOADS; c++) {
      const int idx = threadIdx.x + 128 * c, r = idx / CH, cc = idx % CH;
      if (r < nk) {
        const u64 e = (u64)(jt + r) * width + 8 * cc;
        kr[c] = __ldg((const uint4*)(kg + e));
        vr[c] = __ldg((const uint4*)(vg + e));
      }
    }
#pragma unroll
    for (int c = 0; c < LOADS; c++) {
      const int idx = threadIdx.x + 128 * c, r = idx / CH, cc = idx % CH;
      if (r < nk) {
        *(uint4*)(ks + r * KROW + 16 * cc) = kr[c];
        *(uint4*)(vs + r * VROW + 16 * cc) = vr[c];
      }
    }
    __syncthreads();  // the tile (and, the first time, the queries) are in shared memory
#pragma unroll
    for (int k = 0; k < 2; k++) {
      const int hh = warp + 4 * k;  // the query head within the group
      if (hh >= G) break;           // uniform over the warp
      const float* qh = qs + hh * HD;
      float sc[SPL], p[SPL];
      float mt = NEG_INF;
#pragma unroll
      for (int i = 0; i < SPL; i++) {
        const int r = lane + 32 * i;
        sc[i] = NEG_INF;
        if (r < nk) {
          float dot = 0.f;
#pragma unroll
          for (int cc = 0; cc < CH; cc++) {
            float w[8];
            cvt8<DT>(*(const uint4*)(ks + r * KROW + 16 * cc), w);
            const float4 a = *(const float4*)(qh + 8 * cc), b = *(const float4*)(qh + 8 * cc + 4);
            dot += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z + w[7] * b.w;
          }
          sc[i] = dot * scale;
        }
        mt = fmaxf(mt, sc[i]);
      }
      mt = warp_max(mt);                // finite: key jt (r = 0) is in every tile
      const float mn = fmaxf(m[k], mt);
      const float corr = expf(m[k] - mn);  // m = -inf at first: corr = 0
      float ps = 0.f;
#pragma unroll
      for (int i = 0; i < SPL; i++) {
        p[i] = lane + 32 * i < nk ? expf(sc[i] - mn) : 0.f;
        ps += p[i];
      }
      l[k] = l[k] * corr + warp_sum(ps);
#pragma unroll
      for (int d = 0; d < DPL; d++) acc[k][d] *= corr;
#pragma unroll
      for (int i = 0; i < SPL; i++) {
        const int rn = min(32, nk - 32 * i);  // keys of this lane group; uniform over the warp
        for (int rr = 0; rr < rn; rr++) {
          const float pr = __shfl_sync(0xffffffffu, p[i], rr);
          const unsigned char* vrow = vs + (32 * i + rr) * VROW;
          if (DPL == 2) {
            float a, b;
            cvt2<DT>(*(const u32*)(vrow + 4 * lane), a, b);
            acc[k][0] += pr * a;
            acc[k][1] += pr * b;
          } else {
            const uint2 w = *(const uint2*)(vrow + 8 * lane);
            float a, b, c, e;
            cvt2<DT>(w.x, a, b);
            cvt2<DT>(w.y, c, e);
            acc[k][0] += pr * a;
            acc[k][1] += pr * b;
            acc[k][DPL > 2 ? 2 : 0] += pr * c;
            acc[k][DPL > 3 ? 3 : 0] += pr * e;
          }
        }
      }
      m[k] = mn;
    }
    __syncthreads();  // every warp is done with the tile before the next overwrites it
  }
#pragma unroll
  for (int k = 0; k < 2; k++) {
    const int hh = warp + 4 * k;
    if (hh >= G) break;
    const int h = g * G + hh;
    if (single) {
      float* o = out + ((u64)t * heads + h) * HD + DPL * lane;
      const float inv = 1.f / l[k];
#pragma unroll
      for (int d = 0; d < DPL; d++) o[d] = acc[k][d] * inv;
    } else {
      float* pp = part_at(part, t, h, s, heads, splits, HD);
#pragma unroll
      for (int d = 0; d < DPL; d++) pp[DPL * lane + d] = acc[k][d];
      if (lane == 0) {
        pp[HD] = m[k];
        pp[HD + 1] = l[k];
      }
    }
  }
}

// attn_combine merges the splits of attn_decode or attention: block per
// (head h = x, token t = y), thread per output dim d; for the splits s
// that token t's context reaches, out = Σ_s e^(m_s−M)·acc_s / Σ_s
// e^(m_s−M)·l_s with M = max_s m_s. A token whose context fits one chunk
// was written by its split already. align and minChunk are the attention
// kernel's (32 and its minChunk for attention, TILE and TILE for
// attn_decode).
extern "C" __global__ void attn_combine(const float* part, float* out, const int* posp, int pos, int n, int heads,
                                        int headDim, int splits, int align, int minChunk) {
  pdl_wait();
  pdl_launch();
  const int P = run_pos(posp, pos);
  const int h = blockIdx.x, t = blockIdx.y;
  const int chunk = attn_chunk(P + n, splits, align, minChunk), ctx = P + t + 1;
  const int used = (ctx + chunk - 1) / chunk;
  if (used <= 1) return;
  const float* pp = part_at((float*)part, t, h, 0, heads, splits, headDim);
  float M = NEG_INF;
  for (int s = 0; s < used; s++) M = fmaxf(M, pp[s * (headDim + 2) + headDim]);
  for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
    float num = 0.f, den = 0.f;
    for (int s = 0; s < used; s++) {
      const float* ps = pp + s * (headDim + 2);
      const float e = expf(ps[headDim] - M);
      num += e * ps[d];
      den += e * ps[headDim + 1];
    }
    out[((u64)t * heads + h) * headDim + d] = num / den;
  }
}

// pack2 puts two 16-bit values in a 32-bit register, a in the low half:
// the element with the lower index of an mma fragment's pair.
__device__ __forceinline__ u32 pack2(u16 a, u16 b) { return (u32)a | ((u32)b << 16); }

// split16 splits v into two values of the 16-bit type DT, hi = round(v)
// and lo = round(v − hi), so that hi + lo carries about 16 bits of v's
// mantissa (8 + 8 for bf16; f16's 11 + 11, less where lo underflows).
template <int DT>
__device__ __forceinline__ void split16(float v, u16& hi, u16& lo) {
  if (DT == DT_BF16) {
    hi = f2bf(v);
    lo = f2bf(v - bf2f(hi));
  } else {
    hi = f2h(v);
    lo = f2h(v - h2f(hi));
  }
}

// mma16816 is d += a·b for one m16n8k16 tile of DT (bf16 or f16) inputs
// with float32 accumulation. Fragments (PTX ISA, "Matrix Fragments for
// mma.m16n8k16 with floating point type"), g = lane/4, t = lane%4: a[0]
// holds A[g][2t, 2t+1], a[1] A[g+8][2t, 2t+1], a[2] A[g][2t+8, 2t+9], a[3]
// A[g+8][2t+8, 2t+9]; b0 holds B[2t, 2t+1][g], b1 B[2t+8, 2t+9][g]; d[0],
// d[1] are D[g][2t, 2t+1] and d[2], d[3] D[g+8][2t, 2t+1].
template <int DT>
__device__ __forceinline__ void mma16816(float d[4], const u32 a[4], u32 b0, u32 b1) {
  if (DT == DT_BF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// attn_prefill: causal flash attention on tensor cores for 2-byte caches
// and headDim 64. Block (4 warps) = 64 query rows q0..q0+63 of the pass
// (grid x) for query head h (grid y); warp w owns rows q0+16w..q0+16w+15
// and lane (g, t) the rows r0 = q0+16w+g and r1 = r0+8, the mma fragment
// rows. The queries stay in registers as A fragments, split into hi and lo
// halves. Per tile of 64 keys (rows 0..P+min(n, q0+64)−1 of the caches,
// the most the block's rows see): the block loads K (row-major) and V
// (transposed, keys contiguous per dim) into shared memory, rows padded by
// 16 bytes so that fragment reads hit distinct banks; each warp computes
// its 16×64 scores S = Q·Kᵀ with 2×16 mma (hi, lo), masks keys past each
// row's position, updates the online softmax (row max and sum kept per
// thread pair of values and reduced over the lane quad that shares a row)
// and adds P·V with 2×32 mma, P split into hi and lo from the score
// fragments, which are the A fragments of P·V as they stand. Rows past n
// compute and are not written.
template <int DT>
__device__ void attn_prefill(const float* q, const void* kc, const void* vc, float* out, const int* posp, int pos,
                             int n, int heads, int kvHeads, float scale) {
  const int HD = 64, TK = 64, KP = HD + 8, VP = TK + 8;
  __shared__ __align__(16) u16 ks[TK][KP];
  __shared__ __align__(16) u16 vt[HD][VP];
  pdl_wait();
  pdl_launch();
  const int P = run_pos(posp, pos);
  const int h = blockIdx.y, kvh = h / (heads / kvHeads), width = kvHeads * HD;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tq = lane & 3;
  const int q0 = blockIdx.x * 64, r0 = q0 + 16 * warp + g, r1 = r0 + 8;
  const int kend = P + min(n, q0 + 64);

  u32 qh[4][4], ql[4][4];  // [k-step of 16 dims][fragment register]
#pragma unroll
  for (int kd = 0; kd < 4; kd++) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int row = (j & 1) ? r1 : r0, col = 16 * kd + 2 * tq + ((j & 2) ? 8 : 0);
      float2 v = make_float2(0.f, 0.f);
      if (row < n) v = *(const float2*)(q + ((u64)row * heads + h) * HD + col);
      u16 ah, al, bh, bl;
      split16<DT>(v.x, ah, al);
      split16<DT>(v.y, bh, bl);
      qh[kd][j] = pack2(ah, bh);
      ql[kd][j] = pack2(al, bl);
    }
  }
  float o[8][4];
#pragma unroll
  for (int dn = 0; dn < 8; dn++) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.f;
  float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.f, l1 = 0.f;  // rows r0, r1; l is this thread's part of the sum

  const u16* kg = (const u16*)kc + (u64)kvh * HD;
  const u16* vg = (const u16*)vc + (u64)kvh * HD;
  for (int kt = 0; kt < kend; kt += TK) {
    uint4 kr[4], vr[4];
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const int idx = threadIdx.x + 128 * c, r = idx >> 3, cc = idx & 7;
      kr[c] = vr[c] = make_uint4(0, 0, 0, 0);
      if (kt + r < kend) {
        const u64 e = (u64)(kt + r) * width + 8 * cc;
        kr[c] = __ldg((const uint4*)(kg + e));
        vr[c] = __ldg((const uint4*)(vg + e));
      }
    }
#pragma unroll
    for (int c = 0; c < 4; c++) {
      const int idx = threadIdx.x + 128 * c, r = idx >> 3, cc = idx & 7;
      *(uint4*)&ks[r][8 * cc] = kr[c];
      const u32 w[4] = {vr[c].x, vr[c].y, vr[c].z, vr[c].w};
#pragma unroll
      for (int e = 0; e < 4; e++) {
        vt[8 * cc + 2 * e][r] = (u16)(w[e] & 0xFFFF);
        vt[8 * cc + 2 * e + 1][r] = (u16)(w[e] >> 16);
      }
    }
    __syncthreads();

    float s[8][4];  // [n-tile of 8 keys][fragment element]
#pragma unroll
    for (int j = 0; j < 8; j++) {
      s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
      for (int kd = 0; kd < 4; kd++) {
        const u32 b0 = *(const u32*)&ks[8 * j + g][16 * kd + 2 * tq];
        const u32 b1 = *(const u32*)&ks[8 * j + g][16 * kd + 8 + 2 * tq];
        mma16816<DT>(s[j], qh[kd], b0, b1);
        mma16816<DT>(s[j], ql[kd], b0, b1);
      }
    }
    float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
    for (int j = 0; j < 8; j++) {
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int key = kt + 8 * j + 2 * tq + (e & 1), row = (e & 2) ? r1 : r0;
        const float v = (key <= P + row && key < kend) ? s[j][e] * scale : NEG_INF;
        s[j][e] = v;
        if (e & 2) mx1 = fmaxf(mx1, v);
        else mx0 = fmaxf(mx0, v);
      }
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    // Key 0 is in tile 0 and every row sees it, so after the first tile m
    // is finite and a row with no key in a later tile keeps its m.
    const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    const float c0 = expf(m0 - mn0), c1 = expf(m1 - mn1);
    m0 = mn0;
    m1 = mn1;
    l0 *= c0;
    l1 *= c1;
#pragma unroll
    for (int dn = 0; dn < 8; dn++) {
      o[dn][0] *= c0;
      o[dn][1] *= c0;
      o[dn][2] *= c1;
      o[dn][3] *= c1;
    }
#pragma unroll
    for (int j = 0; j < 8; j++) {
      s[j][0] = expf(s[j][0] - mn0);
      s[j][1] = expf(s[j][1] - mn0);
      s[j][2] = expf(s[j][2] - mn1);
      s[j][3] = expf(s[j][3] - mn1);
      l0 += s[j][0] + s[j][1];
      l1 += s[j][2] + s[j][3];
    }
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      // The A fragment of P for keys 16kk..16kk+15: score tiles 2kk and 2kk+1.
      u32 ph[4], pl[4];
      const float* a = s[2 * kk];
      const float* b = s[2 * kk + 1];
      const float pv[4][2] = {{a[0], a[1]}, {a[2], a[3]}, {b[0], b[1]}, {b[2], b[3]}};
#pragma unroll
      for (int j = 0; j < 4; j++) {
        u16 xh, xl, yh, yl;
        split16<DT>(pv[j][0], xh, xl);
        split16<DT>(pv[j][1], yh, yl);
        ph[j] = pack2(xh, yh);
        pl[j] = pack2(xl, yl);
      }
#pragma unroll
      for (int dn = 0; dn < 8; dn++) {
        const u32 b0 = *(const u32*)&vt[8 * dn + g][16 * kk + 2 * tq];
        const u32 b1 = *(const u32*)&vt[8 * dn + g][16 * kk + 8 + 2 * tq];
        mma16816<DT>(o[dn], ph, b0, b1);
        mma16816<DT>(o[dn], pl, b0, b1);
      }
    }
    __syncthreads();  // every warp is done with the tile before the next overwrites it
  }
  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float i0 = 1.f / l0, i1 = 1.f / l1;
#pragma unroll
  for (int dn = 0; dn < 8; dn++) {
    const int col = 8 * dn + 2 * tq;
    if (r0 < n) *(float2*)(out + ((u64)r0 * heads + h) * HD + col) = make_float2(o[dn][0] * i0, o[dn][1] * i0);
    if (r1 < n) *(float2*)(out + ((u64)r1 * heads + h) * HD + col) = make_float2(o[dn][2] * i1, o[dn][3] * i1);
  }
}

// The instantiations, one extern "C" name per cache dtype (and head size).
#define ATTN_DT(S, DT)                                                                                            \
  extern "C" __global__ void attention_##S(const float* q, const void* kc, const void* vc, float* out, float* part, \
                                           const int* posp, int pos, int n, int heads, int kvHeads, int headDim,  \
                                           int splits, int minChunk, float scale, int vec) {                     \
    attention<DT>(q, kc, vc, out, part, posp, pos, n, heads, kvHeads, headDim, splits, minChunk, scale, vec);    \
  }

#define ATTN_TC(S, DT)                                                                                            \
  extern "C" __global__ void attn_decode_##S##_64(const float* q, const void* kc, const void* vc, float* out,      \
                                                  float* part, const int* posp, int pos, int n, int heads,        \
                                                  int kvHeads, int splits, float scale) {                         \
    attn_decode<DT, 64>(q, kc, vc, out, part, posp, pos, n, heads, kvHeads, splits, scale);                      \
  }                                                                                                              \
  extern "C" __global__ void attn_decode_##S##_128(const float* q, const void* kc, const void* vc, float* out,     \
                                                   float* part, const int* posp, int pos, int n, int heads,       \
                                                   int kvHeads, int splits, float scale) {                        \
    attn_decode<DT, 128>(q, kc, vc, out, part, posp, pos, n, heads, kvHeads, splits, scale);                     \
  }                                                                                                              \
  extern "C" __global__ void attn_prefill_##S(const float* q, const void* kc, const void* vc, float* out,          \
                                              const int* posp, int pos, int n, int heads, int kvHeads,           \
                                              float scale) {                                                     \
    attn_prefill<DT>(q, kc, vc, out, posp, pos, n, heads, kvHeads, scale);                                       \
  }

ATTN_DT(bf16, DT_BF16)
ATTN_DT(f16, DT_F16)
ATTN_DT(f32, DT_F32)
ATTN_TC(bf16, DT_BF16)
ATTN_TC(f16, DT_F16)
