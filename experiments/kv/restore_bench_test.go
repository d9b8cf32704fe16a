package kv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmgpu/wasmgpu/experiments"
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// kvShaped is a model whose KV cache has Llama 3.2 1B's geometry (16
// layers, 8 KV heads of 64, bf16: 32 KiB a token) and whose other sizes are
// small, so a restore moves the 1B's bytes and a prefill of 4096 tokens
// takes seconds on two cores.
func kvShaped() models.Config {
	c := models.Tiny()
	c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim = 16, 8, 8, 64
	c.HiddenSize, c.IntermediateSize, c.VocabSize = 512, 512, 1024
	return c
}

// restoreBench is a source conversation of kvShaped, placed for prefill,
// and the model that makes standby destinations placed for a restore, as
// the experiment makes them.
type restoreBench struct {
	ctx context.Context
	m   *model
	src *Conversation
}

func newRestoreBench(b *testing.B) *restoreBench {
	m := newModelOpts(b, nil, kvShaped(), 1, llmhost.Options{KV: device.KVBF16, MaxSeq: 4160, MaxBatch: 256})
	return &restoreBench{ctx: m.ctx, m: m, src: m.openPlaced(b, device.ZeroCopy, llmhost.PlaceForPrefill)}
}

// fresh is a standby destination.
func (rb *restoreBench) fresh(b *testing.B) *Conversation {
	return rb.m.openPlaced(b, device.ZeroCopy, llmhost.PlaceForRestore)
}

// snapshot prefills n prompt tokens in the source and saves them.
func (rb *restoreBench) snapshot(b *testing.B, n int) (path string, next int32) {
	if err := rb.src.S.Reset(rb.ctx); err != nil {
		b.Fatal(err)
	}
	next, err := rb.src.S.Prefill(rb.ctx, experiments.PromptIDs(1, n, kvShaped().VocabSize))
	if err != nil {
		b.Fatal(err)
	}
	path = filepath.Join(b.TempDir(), "kv.safetensors")
	if _, err := rb.src.Save(rb.ctx, path); err != nil {
		b.Fatal(err)
	}
	return path, next
}

// BenchmarkRestore restores a snapshot of 24, 512 and 4096 tokens of a
// Llama 3.2 1B-shaped KV cache into a fresh guest placed for a restore, as
// the kv experiment's restore-warm and restore-cold do (header update and
// Resume included); making the guest and dropping the file from the page
// cache are outside the clock.
func BenchmarkRestore(b *testing.B) {
	rb := newRestoreBench(b)
	for _, n := range []int{24, 512, 4096} {
		path, _ := rb.snapshot(b, n)
		for _, cache := range []string{"warm", "cold"} {
			b.Run(fmt.Sprintf("ctx=%d/cache=%s", n, cache), func(b *testing.B) {
				var size int64
				for range b.N {
					b.StopTimer()
					if cache == "cold" {
						if _, err := DropCache(path); err != nil {
							b.Fatal(err)
						}
					}
					dst := rb.fresh(b)
					b.StartTimer()
					info, err := dst.Restore(rb.ctx, path)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					size = info.Bytes
					dst.S.Close(rb.ctx)
				}
				b.SetBytes(size)
			})
		}
	}
}

// BenchmarkFirstDecode times the first decode step after a restore into a
// fresh guest (after=restore) against a decode step of the warm source
// conversation at the same position (after=prefill): the first-token
// penalty of a restore is their ratio.
func BenchmarkFirstDecode(b *testing.B) {
	rb := newRestoreBench(b)
	for _, n := range []int{24, 512, 4096} {
		path, next := rb.snapshot(b, n)
		b.Run(fmt.Sprintf("ctx=%d/after=restore", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dst := rb.fresh(b)
				info, err := dst.Restore(rb.ctx, path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				_, err = dst.S.Decode(rb.ctx, info.Next)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				dst.S.Close(rb.ctx)
			}
		})
		b.Run(fmt.Sprintf("ctx=%d/after=prefill", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				// Back to position n: the same decode step each time.
				if err := rb.src.S.Reset(rb.ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := rb.src.Restore(rb.ctx, path); err != nil {
					b.Fatal(err)
				}
				if _, err := rb.src.S.Decode(rb.ctx, next); err != nil { // warms the session at this position
					b.Fatal(err)
				}
				if _, err := rb.src.Restore(rb.ctx, path); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				_, err := rb.src.S.Decode(rb.ctx, next)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDiskRead reads the snapshots BenchmarkRestore restores, dropped
// from the page cache, with the restore's own reader (snapshot.ReadFile)
// into a buffer already mapped: the disk's speed as a cold restore sees it.
func BenchmarkDiskRead(b *testing.B) {
	rb := newRestoreBench(b)
	for _, n := range []int{24, 512, 4096} {
		path, _ := rb.snapshot(b, n)
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, fi.Size())
		clear(buf) // map its pages before the clock
		b.Run(fmt.Sprintf("ctx=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				if _, err := DropCache(path); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := snapshot.ReadFile(path, buf); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(fi.Size())
		})
	}
}
