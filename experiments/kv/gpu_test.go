package kv

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/auto"
	"github.com/wasmgpu/wasmgpu/runtime/device/cpu"
)

// crossBackendTol bounds the logits of one decode step after a restore
// across backends: max |Δ| ≤ crossBackendTol · max |logit|. The cuda
// kernels round differently from the cpu ones (bf16 hi+lo activations on
// tensor cores, another summation order), ≈1e-4 relative per linear layer
// in the cuda tests; a cache computed on one backend and continued on the
// other stays an order of magnitude inside this bound.
const crossBackendTol = 2e-3

// TestRestoreAcrossBackends snapshots a conversation on one backend and
// restores it on the other (cpu → cuda managed and mapped, cuda → cpu); one
// decode step later the restored session's logits must match an
// uninterrupted conversation on the destination's backend within
// crossBackendTol. It skips without a GPU.
func TestRestoreAcrossBackends(t *testing.T) {
	gpu, _, err := auto.Open("cuda")
	if err != nil {
		t.Skipf("no cuda device: %v", err)
	}
	defer gpu.Close()
	c, _ := cpu.Open()
	on := map[string]*model{
		"cpu":  newModel(t, c, models.Tiny(), testSeed, device.KVBF16),
		"cuda": newModel(t, gpu, models.Tiny(), testSeed, device.KVBF16),
	}
	type end struct {
		backend string
		mode    device.Mode
	}
	for _, tc := range []struct{ from, to end }{
		{end{"cpu", device.ZeroCopy}, end{"cuda", device.Managed}},
		{end{"cpu", device.ZeroCopy}, end{"cuda", device.Mapped}},
		{end{"cuda", device.Managed}, end{"cpu", device.ZeroCopy}},
		{end{"cuda", device.Mapped}, end{"cpu", device.ZeroCopy}},
	} {
		name := fmt.Sprintf("%s-%s→%s-%s", tc.from.backend, tc.from.mode, tc.to.backend, tc.to.mode)
		t.Run(name, func(t *testing.T) {
			src, dm := on[tc.from.backend], on[tc.to.backend]
			a := src.open(t, "wasm", tc.from.mode)
			before := start(t, src.ctx, a, src.prompt(), testSnapAt)
			path := filepath.Join(t.TempDir(), "s.safetensors")
			if _, err := a.Save(src.ctx, path); err != nil {
				t.Fatal(err)
			}
			dst := dm.open(t, "wasm", tc.to.mode)
			info, err := dst.Restore(dm.ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			ref := dm.open(t, "wasm", tc.to.mode)
			refToks := start(t, dm.ctx, ref, dm.prompt(), testSnapAt)

			gotTok := more(t, dm.ctx, dst, info.Next, 1)
			wantTok := more(t, dm.ctx, ref, info.Next, 1) // the same input token on both
			got, err := dst.S.Logits(dm.ctx)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.S.Logits(dm.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("logits: %d values, want %d", len(got), len(want))
			}
			var diff, scale float64
			for i := range got {
				diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
				scale = math.Max(scale, math.Abs(float64(want[i])))
			}
			t.Logf("%s: max |Δlogit| %.3g of max |logit| %.3g (%.2g relative); next tokens source %d dest-ref %d, decoded %d vs %d",
				name, diff, scale, diff/scale, before[len(before)-1], refToks[len(refToks)-1], gotTok[0], wantTok[0])
			if !(diff <= crossBackendTol*scale) {
				t.Fatalf("max |Δlogit| %.3g exceeds %.g × max |logit| %.3g", diff, crossBackendTol, scale)
			}
		})
	}
}
