package tenants

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestEvictAndRestore: a tenant snapshotted out mid-conversation and
// restored into a fresh guest goes on with the tokens it would have
// produced without the break, batched with a tenant that never left; a
// damaged snapshot is refused and leaves no tenant behind.
func TestEvictAndRestore(t *testing.T) {
	f := newFixture(t)
	const before, after = 4, 6
	ps := prompts(2)
	want := alone(t, f, ps, before+after)
	p := f.pool(t, f.opts)
	ts, out := admitAll(t, f, p, ps)
	if errs := decodeSome(f, ts, out, before); errs != nil {
		t.Fatal(errs)
	}
	path := filepath.Join(t.TempDir(), "t0.safetensors")
	if err := ts[0].Snapshot(f.ctx, path); err != nil {
		t.Fatal(err)
	}
	next := ts[0].Next()
	if err := ts[0].Close(f.ctx); err != nil {
		t.Fatal(err)
	}
	r, err := p.Restore(f.ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Next() != next {
		t.Fatalf("restored next token %d, want %d", r.Next(), next)
	}
	host, dev := r.Memory()
	if host < r.g.Size() || host == 0 || dev != 0 {
		t.Errorf("restored tenant's memory: host %d, device %d; want at least its linear memory of %d bytes, no device bytes on cpu", host, dev, r.g.Size())
	}
	ts[0] = r
	for i, err := range decodeTenants(f, ts, out, after) {
		if err != nil {
			t.Fatalf("tenant %d: %v", i, err)
		}
	}
	for i := range ps {
		if !slices.Equal(out[i].tokens, want[i].tokens) {
			t.Errorf("tenant %d: tokens %v, without eviction %v", i, out[i].tokens, want[i].tokens)
		}
	}

	// A truncated snapshot: refused, no tenant left in the pool.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(bad, b[:len(b)-100], 0o644); err != nil {
		t.Fatal(err)
	}
	if tn, err := p.Restore(f.ctx, bad); err == nil {
		tn.Close(f.ctx)
		t.Fatal("a truncated snapshot was restored")
	} else {
		t.Logf("truncated snapshot: %v", err)
	}
	if n := len(p.sched.all()); n != 0 {
		t.Errorf("%d tenants left in the pool after a refused restore", n)
	}
}

// decodeSome decodes steps tokens in each tenant, one goroutine each, and
// leaves them open; it returns the errors, or nil.
func decodeSome(f *fixture, ts []*Tenant, out []transcript, steps int) []error {
	done := make(chan struct{})
	errs := make([]error, len(ts))
	for i := range ts {
		go func() {
			defer func() { done <- struct{}{} }()
			for range steps {
				next, err := ts[i].Decode(f.ctx, out[i].tokens[len(out[i].tokens)-1])
				if err != nil {
					errs[i] = err
					return
				}
				out[i].tokens = append(out[i].tokens, next)
			}
		}()
	}
	for range ts {
		<-done
	}
	for _, err := range errs {
		if err != nil {
			return errs
		}
	}
	return nil
}
