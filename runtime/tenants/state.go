package tenants

import (
	"context"
	"fmt"

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
	llm.SetStatePosition(region, st.Pos, st.Next) // NoToken (-1) is the header's none
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
// guest's memory (so untrusted: llm.ParseStateHeader holds it to the
// region), and returns a snapshot.State of meta whose token ids and caches
// are views of region (llmhost.StateView). The header must state meta's
// geometry (KV dtype, layers, width, rows).
func stateView(region []byte, meta snapshot.Meta) (*snapshot.State, error) {
	if meta.MaxSeq < 1 || meta.Layers < 1 {
		return nil, fmt.Errorf("state view: %d layers of %d rows", meta.Layers, meta.MaxSeq)
	}
	st, err := llmhost.StateView(region, meta)
	if err != nil {
		return nil, err
	}
	if g := st.Meta; g.KVDType != meta.KVDType || g.Layers != meta.Layers || g.Width != meta.Width || g.MaxSeq != meta.MaxSeq {
		return nil, fmt.Errorf("state header: %s, %d layers, width %d, %d rows; want %s, %d, %d, %d", g.KVDType, g.Layers, g.Width, g.MaxSeq, meta.KVDType, meta.Layers, meta.Width, meta.MaxSeq)
	}
	return st, nil
}
