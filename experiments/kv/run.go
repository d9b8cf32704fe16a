package kv

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/internal/cpuload"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/guest"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
	"github.com/wasmgpu/wasmgpu/runtime/wasm"
)

// The operations timed, as the Labels["op"] of their cases. See kv.yaml for
// what each one measures exactly.
const (
	OpRePrefill      = "re-prefill"
	OpRePrefillToken = "re-prefill+token"
	OpSnapshot       = "snapshot"
	OpRestoreWarm    = "restore-warm"
	OpRestoreToken   = "restore+token"
	OpRestoreCold    = "restore-cold"
	OpMigrate        = "tcp-migrate"
	// The decode steps inside the +token operations: the source's next
	// decode after its re-prefill (a warm session's decode step) and the
	// first decode of the session a warm restore landed in. Their ratio is
	// the first-token penalty of a restore.
	OpDecodeAfterPrefill = "decode-after-prefill"
	OpDecodeAfterRestore = "decode-after-restore"
	// OpDiskRead reads the snapshot file, dropped from the page cache, with
	// the restore's reader into host memory (snapshot.ReadFile): the disk's
	// speed as a cold restore sees it, reported beside it.
	OpDiskRead = "disk-read"
)

// ops lists the operations in table order.
var ops = []string{OpRePrefill, OpRePrefillToken, OpSnapshot, OpRestoreWarm, OpRestoreToken, OpRestoreCold, OpMigrate,
	OpDecodeAfterPrefill, OpDecodeAfterRestore, OpDiskRead}

// kind is one way of running the conversation (wasm-<mode> or
// native-<mode>): a source session reused across repetitions, how to make a
// fresh destination, and what was measured.
type kind struct {
	name    string
	src     *Conversation
	fresh   func(ctx context.Context) (*Conversation, error)
	t       map[string][]float64 // seconds per op, one per repetition, the first is the warm-up
	size    int64                // snapshot bytes
	sent    int64                // bytes sent by the migration
	drop    []float64            // fraction of the file resident after dropping it, per repetition
	scratch []byte               // host memory the disk read lands in
	wrong   []string             // failed continuation checks
}

// env is what one run shares.
type runEnv struct {
	*experiments.Env
	p    Plan
	cfg  models.Config
	w    device.Weights
	rt   *wasm.Runtime
	meta snapshot.Meta
	dir  string
	ln   net.Listener
}

// Run executes the spec on env's device.
func Run(ctx context.Context, env *experiments.Env, s *Spec) (*results.File, error) {
	p, err := s.Plan(env.Device.Info().Backend, env.Quick, env.Overrides)
	if err != nil {
		return nil, err
	}
	f, vs, model, err := env.StartLLM("kv", p.LLMPlan, p.NativeModes, p.WasmModes)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	cfg := model.Host.Config
	for _, n := range p.ContextLengths {
		if n+p.ContinuationTokens > cfg.MaxPositionEmbeddings {
			return nil, fmt.Errorf("kv: context %d plus %d continuation tokens exceeds the model's %d positions", n, p.ContinuationTokens, cfg.MaxPositionEmbeddings)
		}
	}

	modes := vs.Names()
	f.Provenance.SetExtra("speedup_ci_method", "percentile bootstrap of median(re-prefill)/median(restore) (and of re-prefill+token over restore+token, and of the first decode after a restore over a warm decode step: penalty), 4000 resamples of each side independently; none below 6 timed samples a side")
	for k, v := range map[string]float64{
		"kv_bytes_per_token":      float64(cfg.KVBytesPerToken(p.KV.Size())),
		"max_seq":                 float64(p.MaxSeq),
		"max_batch":               float64(p.MaxBatch),
		"continuation_tokens":     float64(p.ContinuationTokens),
		"repetitions_incl_warmup": float64(p.Repetitions),
	} {
		f.Provenance.SetNumber(k, v)
	}

	r := &runEnv{Env: env, p: p, cfg: cfg, w: model.Device, meta: snapshot.Meta{
		Fingerprint: Fingerprint(cfg, model.Host.Source), SourceDevice: env.Device.Info().Backend,
	}}
	opts := llmhost.Options{KV: p.KV, MaxSeq: p.MaxSeq, MaxBatch: p.MaxBatch}
	if len(vs.Wasm) > 0 {
		r.rt, err = wasm.New(ctx, wasm.Config{Wasm: guest.Wasm, MaxMemory: llmhost.MemoryBytes(cfg, opts), CacheDir: env.CacheDir})
		if err != nil {
			return nil, fmt.Errorf("kv: %w", err)
		}
		defer r.rt.Close(ctx)
	}
	if r.dir = p.SnapshotDir; r.dir == "" {
		if r.dir, err = os.MkdirTemp(env.TempDir, "wasmgpu-kv-"); err != nil {
			return nil, fmt.Errorf("kv: snapshot directory: %w", err)
		}
		defer os.RemoveAll(r.dir)
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, fmt.Errorf("kv: snapshot directory: %w", err)
	}
	f.Provenance.SetExtra("snapshot_fs", fsType(r.dir))
	if r.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("kv: loopback listener: %w", err)
	}
	defer r.ln.Close()

	total, done := len(p.ContextLengths)*len(modes)*p.Repetitions, 0
	for _, n := range p.ContextLengths {
		cases, caseNotes, failures, err := r.runContext(ctx, vs.Native, vs.Wasm, n, &done, total)
		if err != nil {
			return nil, fmt.Errorf("kv ctx=%d: %w", n, err)
		}
		f.Cases = append(f.Cases, cases...)
		f.Notes = append(f.Notes, caseNotes...)
		f.Failures = append(f.Failures, failures...)
	}
	f.Notes = append(f.Notes,
		"re-prefill runs in one warm session reset each time; every restore and migration lands in a fresh session (a new guest instance of the same runtime sharing the weights), made before the clock starts and placed like a warm standby instance (llmhost.PlaceForRestore: activations and logits where the kernels use them, the KV cache where the restore writes it; a never-touched instance first pays one page fault per page the snapshot lands on: about 1.5 µs each on a VM, tens of µs on managed memory); on managed memory the restored rows move to the GPU as they land",
		fmt.Sprintf("snapshots hold the KV cache in %s (%d B/token); the write-up's 1.58 MB at 24 tokens is fp32-sized", p.KV, cfg.KVBytesPerToken(p.KV.Size())))
	return f, nil
}

// runContext measures every kind at context length n.
func (r *runEnv) runContext(ctx context.Context, nativeModes, wasmModes []device.Mode, n int, done *int, total int) (cases []results.Case, notes []string, failures []results.Failure, err error) {
	var kinds []*kind
	defer func() {
		for _, k := range kinds {
			if cerr := k.src.S.Close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}
	}()
	opts := llmhost.Options{KV: r.p.KV, MaxSeq: r.p.MaxSeq, MaxBatch: r.p.MaxBatch}
	add := func(name string, mode device.Mode, open func(context.Context, llmhost.Options) (llmhost.Session, error)) error {
		meta := r.meta
		meta.SourceMode = string(mode)
		session := func(ctx context.Context, p llmhost.Placement) (*Conversation, error) {
			o := opts
			o.Place = p
			s, err := open(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("%s session: %w", name, err)
			}
			return &Conversation{S: s, Meta: meta}, nil
		}
		// Destinations are standby sessions placed for a restore.
		fresh := func(ctx context.Context) (*Conversation, error) { return session(ctx, llmhost.PlaceForRestore) }
		src, err := session(ctx, llmhost.PlaceForPrefill)
		if err != nil {
			return err
		}
		kinds = append(kinds, &kind{name: name, src: src, fresh: fresh, t: map[string][]float64{}})
		return nil
	}
	for _, m := range nativeModes {
		if err := add("native-"+string(m), m, func(_ context.Context, o llmhost.Options) (llmhost.Session, error) {
			return llmhost.NewNative(r.Device, m, r.cfg, r.w, o)
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, m := range wasmModes {
		if err := add("wasm-"+string(m), m, func(ctx context.Context, o llmhost.Options) (llmhost.Session, error) {
			return llmhost.NewGuest(ctx, r.rt, r.Device, m, r.cfg, r.w, o)
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	prompt := experiments.PromptIDs(r.p.Seed, n, r.cfg.VocabSize)
	load := cpuload.Now()
	for rep := 0; rep < r.p.Repetitions; rep++ {
		for i := range kinds {
			k := kinds[(i+rep)%len(kinds)]
			if err := r.repetition(ctx, k, prompt, rep); err != nil {
				return nil, nil, nil, fmt.Errorf("%s repetition %d: %w", k.name, rep, err)
			}
			*done++
			r.Tick(*done, total, fmt.Sprintf("ctx=%d %s", n, k.name))
		}
	}
	others := cpuload.Others(load, cpuload.Now())
	for _, k := range kinds {
		for _, c := range k.cases(n, r.p.KV) {
			c.Metrics[results.MetricOthersCPU] = others
			cases = append(cases, c)
		}
		for _, w := range k.wrong {
			failures = append(failures, results.Failure{Case: fmt.Sprintf("ctx=%d/%s", n, k.name), Check: "continuation", Detail: w})
		}
		if worst := slices.Max(k.drop); worst > 0.01 {
			notes = append(notes, fmt.Sprintf("ctx=%d %s: the page cache could not be fully dropped before restore-cold (up to %.0f%% of the file stayed resident): cold is partly warm", n, k.name, 100*worst))
		}
	}
	return cases, notes, failures, nil
}

// repetition runs one repetition of every operation on kind k, in this
// order: re-prefill, snapshot, migration, the source's continuation (the
// reference), restore warm, restore cold; each destination's continuation is
// checked against the reference.
func (r *runEnv) repetition(ctx context.Context, k *kind, prompt []int32, rep int) error {
	n, steps := len(prompt), r.p.ContinuationTokens
	path := fmtPath(r.dir, k.name, n)
	defer os.Remove(path)
	rec := func(op string, d time.Duration) { k.t[op] = append(k.t[op], d.Seconds()) }
	since := experiments.Elapsed

	// 1. Re-prefill: the recompute path. Its result is the next token.
	if err := k.src.S.Reset(ctx); err != nil {
		return err
	}
	start := time.Now()
	next, err := k.src.S.Prefill(ctx, prompt)
	if err != nil {
		return fmt.Errorf("prefill: %w", err)
	}
	prefill := since(start)
	rec(OpRePrefill, prefill)

	// 2. Snapshot to a file (written, fsynced, renamed: snapshot.Save).
	start = time.Now()
	size, err := k.src.Save(ctx, path)
	if err != nil {
		return err
	}
	rec(OpSnapshot, since(start))
	k.size = size

	// 3. Migration over loopback TCP into a fresh session.
	dst, err := k.fresh(ctx)
	if err != nil {
		return err
	}
	start = time.Now()
	sent, err := Migrate(ctx, r.ln, k.src, dst)
	d := since(start)
	if err != nil {
		dst.S.Close(ctx)
		return err
	}
	rec(OpMigrate, d)
	k.sent = sent
	migrated := dst

	// 4. The uninterrupted conversation: its next decode is the continuation
	// cost after a re-prefill, and its tokens are the reference.
	ref := []int32{next}
	start = time.Now()
	tok, err := k.src.S.Decode(ctx, next)
	if err != nil {
		migrated.S.Close(ctx)
		return fmt.Errorf("decode after prefill: %w", err)
	}
	decode := since(start)
	rec(OpRePrefillToken, prefill+decode)
	rec(OpDecodeAfterPrefill, decode)
	ref = append(ref, tok)
	if rest, err := continueFrom(ctx, k.src.S, tok, steps-1); err != nil {
		migrated.S.Close(ctx)
		return fmt.Errorf("reference continuation: %w", err)
	} else {
		ref = append(ref, rest...)
	}
	if err := k.check(ctx, migrated, OpMigrate, rep, n, ref, nil); err != nil {
		return err
	}

	// 5. Restore with the file in the page cache, then the first token.
	if dst, err = k.fresh(ctx); err != nil {
		return err
	}
	start = time.Now()
	info, err := dst.Restore(ctx, path)
	warm := since(start)
	if err != nil {
		dst.S.Close(ctx)
		return err
	}
	rec(OpRestoreWarm, warm)
	start = time.Now()
	tok, err = dst.S.Decode(ctx, info.Next)
	if err != nil {
		dst.S.Close(ctx)
		return fmt.Errorf("decode after restore: %w", err)
	}
	decode = since(start)
	rec(OpRestoreToken, warm+decode)
	rec(OpDecodeAfterRestore, decode)
	if err := k.check(ctx, dst, OpRestoreWarm, rep, n, ref, []int32{info.Next, tok}); err != nil {
		return err
	}

	// 6. Restore with the file dropped from the page cache.
	frac, derr := DropCache(path)
	if derr != nil {
		frac = 1
	}
	k.drop = append(k.drop, frac)
	if dst, err = k.fresh(ctx); err != nil {
		return err
	}
	start = time.Now()
	_, err = dst.Restore(ctx, path)
	d = since(start)
	if err != nil {
		dst.S.Close(ctx)
		return err
	}
	rec(OpRestoreCold, d)
	if err := k.check(ctx, dst, OpRestoreCold, rep, n, ref, nil); err != nil {
		return err
	}

	// 7. The disk, as a cold restore reads it: the same file dropped again,
	// read by the restore's own reader into host memory already mapped.
	if int64(len(k.scratch)) != size {
		k.scratch = make([]byte, size)
		clear(k.scratch) // map its pages before the clock
	}
	if _, err := DropCache(path); err != nil {
		return fmt.Errorf("disk read: %w", err)
	}
	start = time.Now()
	if _, err := snapshot.ReadFile(path, k.scratch); err != nil {
		return fmt.Errorf("disk read: %w", err)
	}
	rec(OpDiskRead, since(start))
	return nil
}

// check continues dst's conversation (from the prefix it already produced,
// or from its restored next token) to len(ref) tokens, records a mismatch
// with the reference, and closes dst.
func (k *kind) check(ctx context.Context, dst *Conversation, op string, rep, n int, ref, prefix []int32) (err error) {
	defer func() {
		if cerr := dst.S.Close(ctx); cerr != nil && err == nil {
			err = cerr
		}
	}()
	pos, err := dst.S.Pos(ctx)
	if err != nil {
		return err
	}
	got := prefix
	if got == nil {
		next, err := dst.Next(ctx)
		if err != nil {
			return err
		}
		got = []int32{next}
	}
	pos -= len(got) - 1 // each token after the first was decoded
	rest, err := continueFrom(ctx, dst.S, got[len(got)-1], len(ref)-len(got))
	if err != nil {
		return fmt.Errorf("%s continuation: %w", op, err)
	}
	got = append(slices.Clone(got), rest...)
	switch {
	case pos != n:
		k.wrong = append(k.wrong, fmt.Sprintf("%s repetition %d: position %d after restore, want %d", op, rep, pos, n))
	case !slices.Equal(got, ref):
		k.wrong = append(k.wrong, fmt.Sprintf("%s repetition %d: continuation %v, uninterrupted %v", op, rep, got, ref))
	}
	return nil
}

// continueFrom decodes steps greedy tokens after next and returns them.
func continueFrom(ctx context.Context, s llmhost.Session, next int32, steps int) ([]int32, error) {
	out := make([]int32, 0, steps)
	for range steps {
		var err error
		if next, err = s.Decode(ctx, next); err != nil {
			return out, err
		}
		out = append(out, next)
	}
	return out, nil
}

// fmtPath is the snapshot file of a kind at a context length.
func fmtPath(dir, kind string, n int) string {
	return fmt.Sprintf("%s%c%s-ctx%d.safetensors", dir, os.PathSeparator, kind, n)
}
