package simd

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/cputime"
)

// Benchmarks run only with -bench; `go test` alone skips them.
//
//	go test -run '^$' -bench . ./internal/simd/
//
// GEMV weights rotate through copies totalling at least 512 MiB, larger than
// any cache here, so GB/s (from b.SetBytes: bytes of weights per op) is the
// DRAM streaming rate a decode step sees, not a cache-resident one.

// llamaShapes are the Linear shapes of Llama 3.2 1B, rows × cols: q/o,
// gate/up, down, and the tied lm_head.
var llamaShapes = [][2]int{{2048, 2048}, {8192, 2048}, {2048, 8192}, {128256, 2048}}

const rotateBytes = 512 << 20

// fillBF16 writes cheap nonzero bf16 values of magnitude ≈ 0.01–0.1.
func fillBF16(w []uint16, seed uint32) {
	s := seed*2654435761 + 1
	for i := range w {
		s = s*1664525 + 1013904223
		w[i] = 0x3c00 | uint16(s>>20)&0x83ff // sign, small exponent spread, mantissa
	}
}

func fillX(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i%17-8) / 8
	}
	return x
}

// split runs f on [0, rows) divided among threads goroutines (the caller's
// included), boundaries on multiples of 4 so every range uses the 4-row kernel.
func split(threads, rows int, f func(r0, r1 int)) {
	if threads == 1 {
		f(0, rows)
		return
	}
	var wg sync.WaitGroup
	per := (rows/threads + 3) &^ 3
	for k := 1; k < threads; k++ {
		r0, r1 := min(rows, k*per), min(rows, (k+1)*per)
		if k == threads-1 {
			r1 = rows
		}
		wg.Go(func() { f(r0, r1) })
	}
	f(0, min(rows, per))
	wg.Wait()
}

func gemvBF16Split(threads int, w []uint16, x, out []float32, cols int) {
	split(threads, len(out), func(r0, r1 int) {
		GemvBF16(w[r0*cols:r1*cols], x, out[r0:r1], cols)
	})
}

func BenchmarkGemvBF16(b *testing.B) {
	for _, s := range llamaShapes {
		rows, cols := s[0], s[1]
		size := rows * cols
		copies := max(1, rotateBytes/(2*size))
		ws := make([][]uint16, copies)
		for i := range ws {
			ws[i] = make([]uint16, size)
			fillBF16(ws[i], uint32(i))
		}
		x, out := fillX(cols), make([]float32, rows)
		for _, p := range paths() {
			threadsList := []int{1, 2}
			if p.name == "go" { // the portable loop, for scale, on one shape
				if rows != 2048 || cols != 2048 {
					continue
				}
				threadsList = []int{1}
			}
			for _, threads := range threadsList {
				b.Run(fmt.Sprintf("%dx%d/%s/threads=%d", rows, cols, p.name, threads), func(b *testing.B) {
					with(b, p, func() {
						b.SetBytes(int64(2 * size))
						i := 0
						for b.Loop() {
							gemvBF16Split(threads, ws[i%copies], x, out, cols)
							i++
						}
					})
				})
			}
		}
	}
}

// BenchmarkLlama1BDecode runs every GEMV of one Llama 3.2 1B decode token
// (16 layers of q, k, v, o, gate, up, down, then the 128256-row lm_head):
// 1.236 G bf16 weights, 2.47 GB. ms/token is the figure to hold against the
// ≈52 ms bandwidth floor; attention, norms and activations are not included.
// The batch=n cases run the same projections as GEMMs of n tokens. It
// allocates 2.47 GB, so it runs only when named: -bench Llama1B.
func BenchmarkLlama1BDecode(b *testing.B) {
	if !strings.Contains(benchFlag(), "Llama1B") {
		b.Skip("allocates 2.47 GB: run with -bench Llama1B")
	}
	const hidden, inter, kv, vocab, layers = 2048, 8192, 512, 128256, 16
	type lin struct {
		w          []uint16
		rows, cols int
	}
	var mats []lin
	var total int
	add := func(rows, cols int) {
		w := make([]uint16, rows*cols)
		fillBF16(w, uint32(len(mats)))
		mats = append(mats, lin{w, rows, cols})
		total += 2 * rows * cols
	}
	for range layers {
		add(hidden, hidden) // q
		add(kv, hidden)     // k
		add(kv, hidden)     // v
		add(hidden, hidden) // o
		add(inter, hidden)  // gate
		add(inter, hidden)  // up
		add(hidden, inter)  // down
	}
	add(vocab, hidden) // lm_head (tied embeddings)
	xs := map[int][]float32{hidden: fillX(hidden), inter: fillX(inter)}
	out := make([]float32, vocab)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			b.SetBytes(int64(total))
			cpu0 := cputime.Process().Seconds()
			for b.Loop() {
				for _, m := range mats {
					gemvBF16Split(threads, m.w, xs[m.cols], out[:m.rows], m.cols)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/token")
			b.ReportMetric((cputime.Process().Seconds()-cpu0)*1e3/float64(threads)/float64(b.N), "ms/token-cpu")
		})
	}
	// The same projections for a batch of tokens at once, each weight read
	// once for all of them (GemmBF16Packed): several guests' decode steps as
	// one pass, on two threads. ms/step against the GEMV's ms/token above.
	for _, n := range []int{1, 2, 4, 8} {
		xn := map[int][]float32{hidden: fillX(n * hidden), inter: fillX(n * inter)}
		outn := make([]float32, n*vocab)
		b.Run(fmt.Sprintf("batch=%d/threads=2", n), func(b *testing.B) {
			b.SetBytes(int64(total))
			var xp PackedBatch
			cpu0 := cputime.Process().Seconds()
			for b.Loop() {
				for _, m := range mats {
					xp.Pack(xn[m.cols], n, m.cols)
					split(2, m.rows, func(r0, r1 int) {
						GemmBF16Packed(m.w, &xp, outn[:n*m.rows], m.rows, r0, r1)
					})
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
			b.ReportMetric((cputime.Process().Seconds()-cpu0)*1e3/2/float64(b.N), "ms/step-cpu")
		})
	}
}

func benchFlag() string {
	if f := flag.Lookup("test.bench"); f != nil {
		return f.Value.String()
	}
	return ""
}

// BenchmarkGemmBF16 is prefill: n tokens through one Linear at once, x
// packed once per call as the cpu device does, on every path this CPU has
// (the portable one only on the smallest case, for scale). GFLOP/s counts 2
// flops per multiply-add; the VDPBF16PS peak on the 2-core EPYC is ≈ 234
// GFLOP/s a core. GFLOP/cpu-s divides by the process's CPU time instead of
// the elapsed time: on a machine shared with other work it is what a core
// delivers while the kernel has it, close to GFLOP/s on an idle one. n = 2…8 is batched decode (several guests' tokens at
// once), bound by the weights' bandwidth rather than arithmetic.
func BenchmarkGemmBF16(b *testing.B) {
	for _, s := range llamaShapes[:3] {
		rows, cols := s[0], s[1]
		w := make([]uint16, rows*cols)
		fillBF16(w, 1)
		for _, n := range []int{2, 4, 8, 24, 64, 128} {
			x, out := fillX(n*cols), make([]float32, n*rows)
			for _, p := range paths() {
				if p.name == "go" && (n != 2 || rows != 2048 || cols != 2048) {
					continue
				}
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%dx%d/n=%d/%s/threads=%d", rows, cols, n, p.name, threads), func(b *testing.B) {
						cpu0 := cputime.Process().Seconds()
						with(b, p, func() {
							var xp PackedBatch
							for b.Loop() {
								xp.Pack(x, n, cols)
								split(threads, rows, func(r0, r1 int) {
									GemmBF16Packed(w, &xp, out, rows, r0, r1)
								})
							}
						})
						flops := 2 * float64(n) * float64(rows) * float64(cols) * float64(b.N)
						b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
						b.ReportMetric(flops/(cputime.Process().Seconds()-cpu0)/1e9, "GFLOP/cpu-s")
					})
				}
			}
		}
	}
}

// BenchmarkStreamBaseline reads 512 MiB with bytes.IndexByte (the runtime's
// AVX2 scan, looking for a byte that is not there): the machine's read
// bandwidth from one and two goroutines, the ceiling for the GEMV numbers
// above measured under the same conditions.
func BenchmarkStreamBaseline(b *testing.B) {
	buf := make([]byte, rotateBytes)
	for i := range buf {
		buf[i] = 1
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			b.SetBytes(int64(len(buf)))
			for b.Loop() {
				split(threads, len(buf), func(r0, r1 int) {
					if bytes.IndexByte(buf[r0:r1], 0) >= 0 {
						panic("unreachable")
					}
				})
			}
		})
	}
}

// BenchmarkGemvBF16Hot runs GEMV on 512 KiB of weights that stay in L2: the
// kernel's own speed, with memory out of the way. Far above the streaming
// numbers means the DRAM-bound figures are the memory's, not the code's.
func BenchmarkGemvBF16Hot(b *testing.B) {
	const rows, cols = 128, 2048
	w := make([]uint16, rows*cols)
	fillBF16(w, 1)
	x, out := fillX(cols), make([]float32, rows)
	for _, p := range paths() {
		b.Run(p.name, func(b *testing.B) {
			with(b, p, func() {
				b.SetBytes(int64(2 * len(w)))
				for b.Loop() {
					GemvBF16(w, x, out, cols)
				}
			})
		})
	}
}

// BenchmarkSwiGLU runs the MLP activation over one 64-token prefill chunk of
// Llama 3.2 1B's intermediate layer (64 × 8192 values), on every path.
func BenchmarkSwiGLU(b *testing.B) {
	const n = 64 * 8192
	gate, up, out := fillX(n), fillX(n), make([]float32, n)
	for _, p := range paths() {
		b.Run(p.name, func(b *testing.B) {
			with(b, p, func() {
				for b.Loop() {
					SwiGLU(gate, up, out)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/value")
			})
		})
	}
}

// BenchmarkAttentionTile runs the cpu device's attention kernels on one
// tile, on every path: 24 queries of one head (rows 2048 floats apart, as
// Llama 3.2 1B's q) scored against 256 cached bf16 keys of width 64 (cache
// rows of 8 heads), the softmax's steps on each row of scores, then the
// probabilities times 256 cached values. GFLOP/s counts 4 flops per
// (query, key, element): the scores' and the weighted sums' multiply-adds.
func BenchmarkAttentionTile(b *testing.B) {
	const rows, keys, hd, qstride, cstride = 24, 256, 64, 2048, 512
	kc, vc := make([]uint16, keys*cstride), make([]uint16, keys*cstride)
	fillBF16(kc, 1)
	fillBF16(vc, 2)
	q, out := fillX(rows*qstride), make([]float32, rows*qstride)
	s := make([]float32, rows*keys)
	seen := make([]int, rows)
	for i := range seen {
		seen[i] = keys
	}
	for _, p := range paths() {
		b.Run(p.name, func(b *testing.B) {
			with(b, p, func() {
				for b.Loop() {
					GemmBF16Stride(kc, cstride, q, qstride, s, keys, rows, keys, hd)
					for r := range rows {
						row := s[r*keys : (r+1)*keys]
						ExpSum(row, 0.125, Max(row)*0.125)
					}
					WeightedSumsBF16(s, keys, vc, cstride, out, qstride, seen, hd)
				}
			})
			b.ReportMetric(4*rows*keys*hd*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
