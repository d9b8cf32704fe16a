package snapshot

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// llamaState is a 4096-token state of Llama 3.2 1B's KV geometry: 16
// layers, 8 KV heads × 64, bf16: 128 MiB of cache.
func llamaState(b *testing.B) *State { return llamaStatePos(b, 4096) }

func llamaStatePos(b *testing.B, pos int) *State {
	b.Helper()
	m := testMeta(device.KVBF16, 16, 512, 4096)
	st := &State{Meta: m, Pos: pos, Next: 1, Tokens: make([]int32, pos)}
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
// destination state: as Restore does (ReadAt on every core), with one
// core, with sequential reads, and at several read chunk sizes.
func BenchmarkRestore(b *testing.B) {
	src := llamaState(b)
	path := filepath.Join(b.TempDir(), "kv.safetensors")
	size, err := Save(path, src)
	if err != nil {
		b.Fatal(err)
	}
	os.ReadFile(path) // warm the page cache
	dst := llamaState(b)
	sequential := func() error { // the streaming path on the same file
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = restore(struct{ io.Reader }{f}, size, path, dst)
		return err
	}
	parallel := func() error {
		_, err := Restore(path, dst)
		return err
	}
	for _, v := range []struct {
		name  string
		procs int
		chunk int
		fn    func() error
	}{
		{"readat", 0, readChunk, parallel},
		{"readat/procs=1", 1, readChunk, parallel},
		{"read/sequential", 0, readChunk, sequential},
		{"readat/chunk=1MiB", 0, 1 << 20, parallel},
		{"readat/chunk=4MiB", 0, 4 << 20, parallel},
	} {
		b.Run(v.name, func(b *testing.B) {
			defer func(c, p int) { readChunk = c; runtime.GOMAXPROCS(p) }(readChunk, runtime.GOMAXPROCS(v.procs))
			readChunk = v.chunk
			for b.Loop() {
				if err := v.fn(); err != nil {
					b.Fatal(err)
				}
			}
			reportGBs(b, size)
		})
	}
}

// BenchmarkSendReceive migrates the state over loopback TCP.
func BenchmarkSendReceive(b *testing.B) {
	src := llamaState(b)
	dst := llamaState(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	errs := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		for {
			if _, err := Receive(c, dst); err != nil {
				errs <- err
				return
			}
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for b.Loop() {
		if n, err = Send(conn, src); err != nil {
			b.Fatal(err)
		}
	}
	conn.Close()
	<-errs
	reportGBs(b, n)
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

// BenchmarkSmall prices the write-up's case, 24 tokens of Llama 3.2 1B
// (768 KiB in bf16), through each path.
func BenchmarkSmall(b *testing.B) {
	src := llamaStatePos(b, 24)
	dst := llamaState(b)
	path := filepath.Join(b.TempDir(), "kv24.safetensors")
	size, err := Save(path, src)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Save", func(b *testing.B) {
		for b.Loop() {
			if _, err := Save(path, src); err != nil {
				b.Fatal(err)
			}
		}
		reportGBs(b, size)
	})
	b.Run("Restore", func(b *testing.B) {
		for b.Loop() {
			if _, err := Restore(path, dst); err != nil {
				b.Fatal(err)
			}
		}
		reportGBs(b, size)
	})
	b.Run("WriteTo+ReadFrom", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if _, err := WriteTo(&buf, src); err != nil {
				b.Fatal(err)
			}
			if _, err := ReadFrom(&buf, dst); err != nil {
				b.Fatal(err)
			}
		}
		reportGBs(b, size)
	})
}
