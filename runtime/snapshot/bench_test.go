package snapshot

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// llamaState is a 4096-token state of Llama 3.2 1B's KV geometry: 16
// layers, 8 KV heads × 64, bf16: 128 MiB of cache.
func llamaState(b *testing.B) *State {
	b.Helper()
	m := testMeta(device.KVBF16, 16, 512, 4096)
	st := &State{Meta: m, Pos: 4096, Next: 1, Tokens: make([]int32, 4096)}
	n := m.MaxSeq * m.RowBytes()
	for i := range m.Layers {
		k, v := make([]byte, n), make([]byte, n)
		for j := range k { // cheap, non-constant content
			k[j], v[j] = byte(j*7+i), byte(j*13+i)
		}
		st.K, st.V = append(st.K, k), append(st.V, v)
	}
	return st
}

func reportGBs(b *testing.B, bytes int64) {
	b.SetBytes(bytes)
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkSave(b *testing.B) {
	st := llamaState(b)
	path := filepath.Join(b.TempDir(), "kv.safetensors")
	var n int64
	b.ResetTimer()
	for b.Loop() {
		var err error
		if n, err = Save(path, st); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b, n)
}

// BenchmarkWriteTo prices encoding alone: the checksum pass and the writes
// into io.Discard.
func BenchmarkWriteTo(b *testing.B) {
	st := llamaState(b)
	var n int64
	for b.Loop() {
		var err error
		if n, err = WriteTo(io.Discard, st); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b, n)
}

// BenchmarkRestore reads a 128 MiB snapshot from a warm page cache into a
// destination state, at several read chunk sizes.
func BenchmarkRestore(b *testing.B) {
	src := llamaState(b)
	path := filepath.Join(b.TempDir(), "kv.safetensors")
	size, err := Save(path, src)
	if err != nil {
		b.Fatal(err)
	}
	os.ReadFile(path) // warm the page cache
	dst := llamaState(b)
	for _, chunk := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 1 << 30} {
		b.Run("chunk="+strconv.Itoa(chunk>>10)+"KiB", func(b *testing.B) {
			defer func(c int) { readChunk = c }(readChunk)
			readChunk = chunk
			for b.Loop() {
				if _, err := Restore(path, dst); err != nil {
					b.Fatal(err)
				}
			}
			reportGBs(b, size)
		})
	}
}

// BenchmarkReadFrom reads a snapshot from memory: the floor a fast network
// or pipe could reach.
func BenchmarkReadFrom(b *testing.B) {
	src := llamaState(b)
	var buf bytes.Buffer
	if _, err := WriteTo(&buf, src); err != nil {
		b.Fatal(err)
	}
	img := buf.Bytes()
	dst := llamaState(b)
	for b.Loop() {
		if _, err := ReadFrom(bytes.NewReader(img), dst); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b, int64(len(img)))
}
