package tenants

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// Settings of p99CI.
const (
	bootstrapResamples   = 2000
	bootstrapMinClusters = 6 // fewer clusters give no interval
)

// p99CI is a 95% interval of the 99th percentile of the gaps in clusters
// (one cluster per tenant and repetition): a cluster bootstrap, resampling
// whole tenants with replacement, because one tenant's gaps share its
// batches and are not independent. The generator's seed is fixed, so a
// result file is reproducible. NaN, NaN with fewer than
// bootstrapMinClusters clusters.
func p99CI(clusters [][]float64) (lo, hi float64) {
	var cs [][]float64
	for _, c := range clusters {
		if c = stats.Finite(c); len(c) > 0 {
			cs = append(cs, c)
		}
	}
	if len(cs) < bootstrapMinClusters {
		return math.NaN(), math.NaN()
	}
	r := rand.New(rand.NewPCG(1, 99))
	p99s := make([]float64, 0, bootstrapResamples)
	var pool []float64
	for range bootstrapResamples {
		pool = pool[:0]
		for range cs {
			pool = append(pool, cs[r.IntN(len(cs))]...)
		}
		slices.Sort(pool)
		p99s = append(p99s, pool[int(math.Ceil(0.99*float64(len(pool))))-1]) // nearest rank, as stats.Summary's P99
	}
	slices.Sort(p99s)
	return p99s[int(0.025*float64(len(p99s)-1))], p99s[int(math.Ceil(0.975*float64(len(p99s)-1)))]
}
