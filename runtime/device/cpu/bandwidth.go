package cpu

import (
	"runtime"

	"github.com/wasmgpu/wasmgpu/internal/membw"
)

// MemoryBandwidth measures streaming read bandwidth with every core, over a
// 512 MiB buffer (far beyond the caches): "weights" and "host_read".
func (d *Device) MemoryBandwidth() (map[string]float64, error) {
	bw, err := membw.Read(512<<20, runtime.GOMAXPROCS(0), 5)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"weights": bw, "host_read": bw}, nil
}
