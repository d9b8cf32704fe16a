// sgemm_naive.metal: the plain one-thread-per-element fp32 GEMM the Metal
// backend uses to cross-check MPSMatrixMultiplication. It is deliberately
// simple (no tiling, no threadgroup memory) so that a wrong answer points at
// the dispatch path (buffers, offsets, sizes), not at a clever kernel.
//
// Written in the common subset of MSL 2.4 and 3.0: the backend compiles it at
// run time with an explicit MTLCompileOptions.languageVersion.

#include <metal_stdlib>
using namespace metal;

// sgemm_dims is passed with setBytes:length:atIndex:; the Go side mirrors it
// as three uint32 (metal.sgemmDims).
struct sgemm_dims {
    uint m; // rows of A and C
    uint n; // columns of B and C
    uint k; // columns of A, rows of B
};

// sgemm_naive computes C = A·B for row-major A (m×k), B (k×n), C (m×n).
// The buffers arrive with the byte offsets of the guest's spans already
// applied (setBuffer:offset:atIndex:), so index 0 is each matrix's first
// element. Grid: x over columns of C, y over rows of C.
kernel void sgemm_naive(device const float *a    [[buffer(0)]],
                        device const float *b    [[buffer(1)]],
                        device float       *c    [[buffer(2)]],
                        constant sgemm_dims &d   [[buffer(3)]],
                        uint2 gid                [[thread_position_in_grid]])
{
    if (gid.x >= d.n || gid.y >= d.m) {
        return;
    }
    float acc = 0.0f;
    for (uint i = 0; i < d.k; i++) {
        acc = fma(a[gid.y * d.k + i], b[i * d.n + gid.x], acc);
    }
    c[gid.y * d.n + gid.x] = acc;
}
