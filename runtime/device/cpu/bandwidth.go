package cpu

import (
	"runtime"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/membw"
)

// bandwidthPasses is how many timed passes MemoryBandwidth takes.
const bandwidthPasses = 7

// MemoryBandwidth measures streaming read bandwidth with every core, over a
// 512 MiB buffer (far beyond the caches), in seven passes: "weights" and
// "host_read" are the median pass, "weights_best" the fastest. The median is
// the rate to hold a median latency against on a machine shared with other
// tenants, where passes minutes apart differ by half; it is also the
// statistic of the cuda meter (a mean) rather than a best case.
func (d *Device) MemoryBandwidth() (map[string]float64, error) {
	rates, err := membw.Read(512<<20, runtime.GOMAXPROCS(0), bandwidthPasses)
	if err != nil {
		return nil, err
	}
	slices.Sort(rates)
	med := rates[len(rates)/2]
	return map[string]float64{"weights": med, "host_read": med, "weights_best": rates[len(rates)-1]}, nil
}
