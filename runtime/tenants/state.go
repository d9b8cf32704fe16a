package tenants

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// Eviction and admission after it: a tenant's conversation leaves as a
// snapshot file (the existing format, runtime/snapshot) written straight
// from its guest's state region, and comes back into a fresh guest whose
// state region receives it, its engine resuming there (llm's Resume checks
// the header against its own model and geometry).

// The state region header's fields this package reads (runtime/llm/state.go
// writes them: little-endian uint32s).
const (
	hdrKV, hdrLayers, hdrWidth, hdrMaxSeq = 12, 16, 20, 24
	hdrPos, hdrNext, hdrTokens, hdrKVOff  = 28, 32, 36, 40
	hdrLayerBytes                         = 44
)

// Snapshot writes the tenant's conversation to path (atomically, fsynced:
// snapshot.Save), to be admitted again with Pool.Restore. Call it between
// Decodes; the tenant goes on as before (Close it to evict it).
func (t *Tenant) Snapshot(ctx context.Context, path string) error {
	if err := t.g.Memory().Sync(); err != nil {
		return fmt.Errorf("snapshot %s: sync: %w", path, err)
	}
	_, st, err := t.view(ctx)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	if _, err := snapshot.Save(path, st); err != nil {
		return err
	}
	return nil
}

// restore reads the snapshot at path into the tenant's state region and
// resumes its engine there.
func (t *Tenant) restore(ctx context.Context, path string) error {
	region, st, err := t.view(ctx)
	if err != nil {
		return err
	}
	var landErr error
	st.Landed = func(b []byte) {
		if err := llmhost.Landed(t.s, b); err != nil && landErr == nil {
			landErr = err
		}
	}
	if _, err := snapshot.Restore(path, st); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(region[hdrPos:], uint32(st.Pos))
	binary.LittleEndian.PutUint32(region[hdrNext:], uint32(st.Next)) // NoToken (-1) is the header's none
	if err := t.s.Resume(ctx); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if landErr != nil {
		return landErr
	}
	t.next = st.Next
	return nil
}

// view returns the tenant's state region and a snapshot.State whose token
// ids and caches are views of it (stateView).
func (t *Tenant) view(ctx context.Context) ([]byte, *snapshot.State, error) {
	region, err := t.s.State(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("state region: %w", err)
	}
	p := t.p
	kv := p.o.KV
	if kv == "" {
		kv = device.KVBF16
	}
	maxSeq := p.o.MaxSeq
	if maxSeq == 0 {
		maxSeq = min(2048, p.cfg.MaxPositionEmbeddings) // the engine's default (llm.Options)
	}
	meta := snapshot.Meta{Fingerprint: p.o.Fingerprint, KVDType: kv, Layers: p.cfg.NumHiddenLayers,
		Width: p.cfg.NumKeyValueHeads * p.cfg.HeadDim, MaxSeq: maxSeq, Vocab: p.cfg.VocabSize,
		SourceDevice: p.dev.Info().Name, SourceMode: string(p.mode)}
	st, err := stateView(region, meta)
	if err != nil {
		return nil, nil, err
	}
	return region, st, nil
}

// stateView reads a state region's header, written by the engine in the
// guest's memory (so untrusted: a guest may have written anything there),
// and returns a snapshot.State of meta whose token ids and caches are views
// of region as the header lays them out. The header must state meta's
// geometry (KV dtype, layers, width, rows), and everything it places must
// lie inside region; the position is clamped to the rows.
func stateView(region []byte, meta snapshot.Meta) (*snapshot.State, error) {
	if len(region) < llm.StateHeaderSize {
		return nil, fmt.Errorf("state region of %d bytes is shorter than its header", len(region))
	}
	get := func(at int) uint64 { return uint64(binary.LittleEndian.Uint32(region[at:])) }
	kv, ok := device.KVDTypeOf(uint32(get(hdrKV)))
	layers, width, maxSeq := get(hdrLayers), get(hdrWidth), get(hdrMaxSeq)
	switch {
	case meta.MaxSeq < 1 || meta.Layers < 1:
		return nil, fmt.Errorf("state view: %d layers of %d rows", meta.Layers, meta.MaxSeq)
	case !ok || kv != meta.KVDType:
		return nil, fmt.Errorf("state header: KV dtype code %d, want %s", get(hdrKV), meta.KVDType)
	case layers != uint64(meta.Layers) || width != uint64(meta.Width) || maxSeq != uint64(meta.MaxSeq):
		return nil, fmt.Errorf("state header: %d layers, width %d, %d rows; want %d, %d, %d", layers, width, maxSeq, meta.Layers, meta.Width, meta.MaxSeq)
	}
	// Small numbers now (the model's geometry): no sum below overflows.
	tokens, kvOff, layerBytes := get(hdrTokens), get(hdrKVOff), get(hdrLayerBytes)
	stride := (layerBytes + 63) &^ 63
	switch {
	case layerBytes != maxSeq*width*uint64(kv.Size()):
		return nil, fmt.Errorf("state header: layer bytes %d are not maxSeq·width·%d", layerBytes, kv.Size())
	case tokens%4 != 0 || tokens < llm.StateHeaderSize || tokens+4*maxSeq > kvOff:
		return nil, fmt.Errorf("state header: token ids at %d overlap the header or the cache at %d", tokens, kvOff)
	case kvOff+2*layers*stride > uint64(len(region)):
		return nil, fmt.Errorf("state header: the cache ends past the %d-byte region", len(region))
	case uintptr(unsafe.Pointer(&region[tokens]))%4 != 0:
		return nil, errors.New("state region: token ids are not 4-byte aligned")
	}
	pos := min(get(hdrPos), maxSeq)
	ids := unsafe.Slice((*int32)(unsafe.Pointer(&region[tokens])), maxSeq) // little-endian hosts only (amd64, arm64)
	st := &snapshot.State{Meta: meta, Pos: int(pos), Next: int32(get(hdrNext)), Tokens: ids[:pos],
		K: make([][]byte, layers), V: make([][]byte, layers)}
	for l := range layers {
		k := kvOff + 2*l*stride
		st.K[l] = region[k : k+layerBytes]
		st.V[l] = region[k+stride : k+stride+layerBytes]
	}
	return st, nil
}
