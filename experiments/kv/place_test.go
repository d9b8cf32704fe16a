package kv

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/auto"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
)

// openPlaced makes a guest conversation of m in mode whose pages are placed
// as p says.
func (m *model) openPlaced(t testing.TB, mode device.Mode, p llmhost.Placement) *Conversation {
	t.Helper()
	o := m.opts
	o.Place = p
	return m.openWith(t, "wasm", mode, o)
}

// TestPlacedRestore: a conversation restored into a standby session placed
// for a restore, whose rows move to the device as they land, continues
// exactly as the uninterrupted conversation does in a session placed for
// prefill, and as in sessions placed for nothing. On the cpu here; on cuda
// (managed and mapped, where placing and landing call cuMemPrefetchAsync)
// on a GPU machine.
func TestPlacedRestore(t *testing.T) {
	backends := map[string][]device.Mode{"cpu": {device.ZeroCopy, device.Copy}}
	if gpu, _, err := auto.Open("cuda"); err == nil {
		gpu.Close()
		backends["cuda"] = []device.Mode{device.Managed, device.Mapped}
	} else {
		t.Logf("cuda part skipped: %v", err)
	}
	for backend, modes := range backends {
		d, _, err := auto.Open(backend)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		m := newModel(t, d, models.Tiny(), testSeed, device.KVBF16)
		for _, mode := range modes {
			t.Run(backend+"-"+string(mode), func(t *testing.T) {
				want := start(t, m.ctx, m.openPlaced(t, mode, llmhost.PlaceNone), m.prompt(), testSteps)
				src := m.openPlaced(t, mode, llmhost.PlaceForPrefill)
				before := start(t, m.ctx, src, m.prompt(), testSnapAt)
				if got := append(slices.Clone(before), more(t, m.ctx, src, before[len(before)-1], testSteps-testSnapAt)...); !slices.Equal(got, want) {
					t.Fatalf("placed for prefill: %v, unplaced %v", got, want)
				}
				if err := src.S.Reset(m.ctx); err != nil {
					t.Fatal(err)
				}
				before = start(t, m.ctx, src, m.prompt(), testSnapAt)
				path := filepath.Join(t.TempDir(), "s.safetensors")
				if _, err := src.Save(m.ctx, path); err != nil {
					t.Fatal(err)
				}
				dst := m.openPlaced(t, mode, llmhost.PlaceForRestore)
				if _, err := dst.Restore(m.ctx, path); err != nil {
					t.Fatal(err)
				}
				resumeAndCompare(t, m.ctx, dst, before, want)
			})
		}
	}
}
