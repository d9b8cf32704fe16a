// Package membw measures how fast this machine's cores can stream memory,
// the ceiling of a bandwidth-bound kernel such as a decode step's GEMVs.
// Experiments compare their achieved bytes per second against it, so a
// result says not only how fast it ran but how close to the hardware it got.
//
// Read returns every timed pass rather than one figure, because on a shared
// machine the passes spread widely (this project's 2-core VM read 15–57 GB/s
// across nine passes of one minute): the caller picks the statistic that
// matches what it compares against. The experiments report median latencies,
// so they hold them against the median pass; the best pass is the optimistic
// ceiling.
package membw

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/wasmgpu/wasmgpu/internal/simd"
)

// Read measures the read bandwidth in bytes per second of threads goroutines
// streaming a buffer of size bytes with SIMD loads (the same loads the cpu
// kernels use), each goroutine its own contiguous part as two streams. It
// returns the rate of each of passes timed passes, in the order run, after
// one warm-up pass.
func Read(size int, threads, passes int) ([]float64, error) {
	if size < 1<<20 || threads < 1 || passes < 1 {
		return nil, fmt.Errorf("membw: size %d, threads %d, passes %d: need ≥ 1 MiB, ≥ 1, ≥ 1", size, threads, passes)
	}
	n := size / 4 / (2 * threads) * (2 * threads)
	buf := make([]float32, n)
	for i := range buf {
		buf[i] = float32(i&1023) * 0.001 // touch every page; not zeros
	}
	chunk := n / threads
	var sink [64]float32
	pass := func() time.Duration {
		var wg sync.WaitGroup
		start := time.Now()
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				part := buf[t*chunk : (t+1)*chunk]
				half := len(part) / 2
				sink[t%len(sink)] += simd.DotF32(part[:half], part[half:])
			}(t)
		}
		wg.Wait()
		return time.Since(start)
	}
	pass()
	rates := make([]float64, passes)
	for i := range rates {
		rates[i] = float64(chunk*threads*4) / pass().Seconds()
	}
	runtime.KeepAlive(sink)
	return rates, nil
}
