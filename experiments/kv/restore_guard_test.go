package kv

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// TestRestoreRefusesWhatResumeWould: a snapshot with valid checksums whose
// next token or a token id is outside the vocabulary (tampered, or from a
// buggy writer) is refused before any byte of the destination moves: the
// destination keeps its own conversation, at its own position, and goes on
// exactly as a twin that was never restored into. (Before, the cache was
// overwritten, Resume refused the header, and the session decoded on at
// its old position over the half-restored cache without an error.)
func TestRestoreRefusesWhatResumeWould(t *testing.T) {
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	ctx := m.ctx
	for _, how := range []string{"native", "wasm"} {
		for _, c := range []struct {
			name string
			edit func(region []byte)
			want string
		}{
			{"next token", func(region []byte) { llm.SetStatePosition(region, 12, int32(m.cfg.VocabSize)) }, "next_token: 512 is outside"},
			{"token id", func(region []byte) {
				h, _ := llm.ParseStateHeader(region)
				binary.LittleEndian.PutUint32(region[h.Layout.Tokens+4*3:], uint32(m.cfg.VocabSize+88))
			}, "tokens: id 600 at position 3 is outside"},
		} {
			src := m.open(t, how, device.ZeroCopy)
			start(t, ctx, src, m.prompt()[:12], 1)
			region, err := src.S.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c.edit(region)
			path := filepath.Join(t.TempDir(), "tampered.safetensors")
			if _, err := src.Save(ctx, path); err != nil {
				t.Fatal(err)
			}
			dst, twin := m.open(t, how, device.ZeroCopy), m.open(t, how, device.ZeroCopy)
			a := start(t, ctx, dst, m.prompt()[:20], 1)
			b := start(t, ctx, twin, m.prompt()[:20], 1)
			_, err = dst.Restore(ctx, path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%s, %s: restore: %v, want %q", how, c.name, err, c.want)
			}
			if pos, err := dst.S.Pos(ctx); err != nil || pos != 20 {
				t.Fatalf("%s, %s: after the refused restore pos %d (%v), want 20", how, c.name, pos, err)
			}
			if next, err := dst.Next(ctx); err != nil || next != a[0] {
				t.Fatalf("%s, %s: next token %d (%v), want %d", how, c.name, next, err, a[0])
			}
			if got, want := more(t, ctx, dst, a[0], 6), more(t, ctx, twin, b[0], 6); !slices.Equal(got, want) {
				t.Fatalf("%s, %s: after the refused restore %v, never restored %v", how, c.name, got, want)
			}
		}
	}
}
