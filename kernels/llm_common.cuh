// Shared definitions of the Llama kernels (llm.cu, attention.cu): element
// types, conversions, vector loads, programmatic dependent launch and warp
// reductions. NVRTC gets it as a header (runtime/device/cuda/nvrtc.go), so
// each .cu file starts with #include "llm_common.cuh". No CUDA headers: the
// conversions are PTX, so NVRTC needs no include path.

#pragma once

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

// cvt8 widens the 8 elements of one 16-byte chunk of a 2-byte DT array.
template <int DT>
__device__ __forceinline__ void cvt8(uint4 v, float w[8]) {
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

// ld8 reads 8 consecutive elements starting at element 8*c (16-byte aligned
// for 2-byte types, 32-byte for f32) with vector loads through the read-only path.
template <int DT>
__device__ __forceinline__ void ld8(const void* p, u64 c, float w[8]) {
  if (DT == DT_F32) {
    float4 a = __ldg((const float4*)p + 2 * c), b = __ldg((const float4*)p + 2 * c + 1);
    w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w;
    w[4] = b.x; w[5] = b.y; w[6] = b.z; w[7] = b.w;
  } else {
    cvt8<DT>(__ldg((const uint4*)p + c), w);
  }
}

// chunk8 is one 16-byte chunk of 2-byte weights (a) or two of f32 (a, b),
// as loaded: ldc loads chunk c of a row, cvt widens it; ld8 is both.
struct chunk8 {
  uint4 a, b;
};

template <int DT>
__device__ __forceinline__ chunk8 ldc(const void* p, int c) {
  chunk8 k;
  if (DT == DT_F32) {
    k.a = __ldg((const uint4*)p + 2 * c);
    k.b = __ldg((const uint4*)p + 2 * c + 1);
  } else {
    k.a = __ldg((const uint4*)p + c);
  }
  return k;
}

template <int DT>
__device__ __forceinline__ void cvt(const chunk8& k, float w[8]) {
  if (DT == DT_F32) {
    w[0] = __uint_as_float(k.a.x); w[1] = __uint_as_float(k.a.y); w[2] = __uint_as_float(k.a.z); w[3] = __uint_as_float(k.a.w);
    w[4] = __uint_as_float(k.b.x); w[5] = __uint_as_float(k.b.y); w[6] = __uint_as_float(k.b.z); w[7] = __uint_as_float(k.b.w);
  } else {
    cvt8<DT>(k.a, w);
  }
}

// Programmatic dependent launch (runtime/device/cuda/llm_pdl.go): the host
// may start a kernel before the previous one in its stream has finished.
// Every kernel here calls pdl_wait() before it touches activations or the
// KV cache: it returns once the previous kernel has completed and its
// writes are visible (at once when the launch did not overlap). Then
// pdl_launch() lets the next kernel start launching. Both are no-ops before
// sm_90. (Prefetching the weights into L2 before pdl_wait, which only the
// weights would allow, measured slower: it competes with the previous
// kernel's own weight stream; RATIONALE.md.)
__device__ __forceinline__ void pdl_wait() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
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

// run_pos is the position a kernel runs at. A launch recorded into a CUDA
// graph (a program, runtime/device/cuda/program.go) reads it from its slot
// of the program's parameter block, which the host rewrites before each
// run while the graph stays as recorded; any other launch passes it as pos
// and posp = 0. Call it after pdl_wait.
__device__ __forceinline__ int run_pos(const int* posp, int pos) { return posp ? *posp : pos; }
