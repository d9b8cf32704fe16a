package kv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// TestSnapshotMovesBetweenSessionKinds snapshots a conversation mid-way to a
// file and restores it into a fresh session of another kind: cpu zerocopy
// into cpu copy mode (every kernel reads staged copies of the restored
// cache), native into the guest and the guest into native. The continuation
// must be the uninterrupted conversation's, token for token.
func TestSnapshotMovesBetweenSessionKinds(t *testing.T) {
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	want := start(t, m.ctx, m.open(t, "wasm", device.ZeroCopy), m.prompt(), testSteps)
	for _, tc := range []struct {
		from, to         string
		fromMode, toMode device.Mode
	}{
		{"wasm", "wasm", device.ZeroCopy, device.Copy},
		{"native", "wasm", device.ZeroCopy, device.ZeroCopy},
		{"wasm", "native", device.ZeroCopy, device.Copy},
	} {
		name := tc.from + "-" + string(tc.fromMode) + "→" + tc.to + "-" + string(tc.toMode)
		t.Run(name, func(t *testing.T) {
			src := m.open(t, tc.from, tc.fromMode)
			before := start(t, m.ctx, src, m.prompt(), testSnapAt)
			path := filepath.Join(t.TempDir(), "s.safetensors")
			n, err := src.Save(m.ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			dst := m.open(t, tc.to, tc.toMode)
			info, err := dst.Restore(m.ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Bytes != n || info.Pos != testPrompt+testSnapAt-1 {
				t.Fatalf("restored %d bytes at pos %d, saved %d at pos %d", info.Bytes, info.Pos, n, testPrompt+testSnapAt-1)
			}
			if pos, _ := dst.S.Pos(m.ctx); pos != info.Pos {
				t.Fatalf("session at pos %d after restore, want %d", pos, info.Pos)
			}
			resumeAndCompare(t, m.ctx, dst, before, want)
		})
	}
}

// TestStreamRoundTrip: WriteTo and ReadFrom move a conversation through any
// stream the same way.
func TestStreamRoundTrip(t *testing.T) {
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	src := m.open(t, "wasm", device.ZeroCopy)
	want := start(t, m.ctx, src, m.prompt(), testSnapAt)
	var buf bytes.Buffer
	if _, err := src.WriteTo(m.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	want = append(want, more(t, m.ctx, src, want[len(want)-1], testSteps-testSnapAt)...)
	dst := m.open(t, "wasm", device.ZeroCopy)
	if _, err := dst.ReadFrom(m.ctx, &buf); err != nil {
		t.Fatal(err)
	}
	resumeAndCompare(t, m.ctx, dst, want[:testSnapAt], want)
}

// TestRestoreRefusesAnotherModel: a snapshot of another model (weights of
// another seed, another architecture, another KV dtype) is refused with the
// field at fault named, and the destination keeps its conversation.
func TestRestoreRefusesAnotherModel(t *testing.T) {
	base := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	deeper := models.Tiny()
	deeper.NumHiddenLayers = 3
	for _, tc := range []struct {
		name  string
		other *model
		field string
	}{
		{"other seed", newModel(t, nil, models.Tiny(), testSeed+1, device.KVBF16), snapshot.KeyFingerprint},
		{"other config", newModel(t, nil, deeper, testSeed, device.KVBF16), snapshot.KeyFingerprint},
		{"other kv dtype", newModel(t, nil, models.Tiny(), testSeed, device.KVF32), snapshot.KeyKVDType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.other.open(t, "native", device.ZeroCopy)
			start(t, tc.other.ctx, src, tc.other.prompt(), 2)
			path := filepath.Join(t.TempDir(), "other.safetensors")
			if _, err := src.Save(tc.other.ctx, path); err != nil {
				t.Fatal(err)
			}
			dst := base.open(t, "wasm", device.ZeroCopy)
			had := start(t, base.ctx, dst, base.prompt()[:5], 3)
			_, err := dst.Restore(base.ctx, path)
			var mm *snapshot.MismatchError
			if !errors.As(err, &mm) || mm.Field != tc.field || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("restore: %v, want a mismatch of %s", err, tc.field)
			}
			// Refused before any data landed: the conversation goes on.
			if pos, _ := dst.S.Pos(base.ctx); pos != 5+2 {
				t.Fatalf("destination at pos %d after a refused restore, want 7", pos)
			}
			if next, _ := dst.Next(base.ctx); next != had[len(had)-1] {
				t.Fatalf("destination's next token changed to %d", next)
			}
		})
	}
}

// TestTruncatedSnapshot: a snapshot cut short is refused with an error that
// says so. A file's size is checked against its header before anything is
// written, so a fresh destination stays at position 0 and a busy one keeps
// its own conversation intact; a stream that ends in the data, which had
// begun to land, resets the destination so that it claims no position over
// a half-written cache.
func TestTruncatedSnapshot(t *testing.T) {
	m := newModel(t, nil, models.Tiny(), testSeed, device.KVBF16)
	src := m.open(t, "wasm", device.ZeroCopy)
	start(t, m.ctx, src, m.prompt(), testSnapAt)
	dir := t.TempDir()
	full := filepath.Join(dir, "full.safetensors")
	size, err := src.Save(m.ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	// busy is a destination in the middle of its own conversation (pos 7).
	busy := func(t *testing.T) (*Conversation, []int32) {
		c := m.open(t, "wasm", device.ZeroCopy)
		return c, start(t, m.ctx, c, m.prompt()[:5], 3)
	}
	checkReset := func(t *testing.T, c *Conversation) {
		t.Helper()
		if pos, _ := c.S.Pos(m.ctx); pos != 0 {
			t.Fatalf("destination at pos %d, want 0", pos)
		}
		if next, _ := c.Next(m.ctx); next != snapshot.NoToken {
			t.Fatalf("destination still predicts token %d", next)
		}
	}
	for _, tc := range []struct {
		name string
		keep int64
	}{{"file cut in the data", size - 1000}, {"file short by one byte", size - 1}, {"file cut in the header", 100}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "cut.safetensors")
			if err := os.WriteFile(path, img[:tc.keep], 0o644); err != nil {
				t.Fatal(err)
			}
			fresh := m.open(t, "wasm", device.ZeroCopy)
			if _, err := fresh.Restore(m.ctx, path); err == nil || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("restore: %v, want an error saying truncated", err)
			}
			checkReset(t, fresh)
			c, had := busy(t)
			if _, err := c.Restore(m.ctx, path); err == nil {
				t.Fatal("truncated snapshot restored")
			}
			if pos, _ := c.S.Pos(m.ctx); pos != 7 {
				t.Fatalf("busy destination at pos %d, want its own 7", pos)
			}
			want := start(t, m.ctx, m.open(t, "wasm", device.ZeroCopy), m.prompt()[:5], 6)
			resumeAndCompare(t, m.ctx, c, had, want)
		})
	}
	t.Run("stream cut in the data", func(t *testing.T) {
		c, _ := busy(t)
		_, err := c.ReadFrom(m.ctx, bytes.NewReader(img[:size-1000]))
		if err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("read: %v, want an error saying truncated", err)
		}
		checkReset(t, c)
	})
}
