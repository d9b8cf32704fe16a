package models

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// Synthetic initialization, like transformers' Llama init: projection and
// embedding weights normal with mean 0 and std 0.02; norm weights 1 plus a
// little noise (std 0.02) so tests are not trivially symmetric.
const (
	synthStd     = 0.02
	synthNormStd = 0.02
)

// synthChunk is the number of elements generated from one PRNG stream. The
// stream for a chunk depends only on the seed, the tensor's index and the
// chunk's index, so the weights are the same however many goroutines work.
const synthChunk = 1 << 16

// Synthetic returns weights of cfg's exact architecture filled with
// deterministic pseudo-random values: the same cfg, seed and dtype give the
// same bytes on every machine and at any GOMAXPROCS, and the same seed in
// different dtypes gives the same values up to rounding. Values are drawn
// from a 65,536-point quantile table of the normal distribution, which
// costs a table lookup per value: the 2.47 GB of Llama 3.2 1B in bf16 take
// seconds on two cores.
func Synthetic(cfg Config, seed uint64, dtype DType) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("synthetic weights: %w", err)
	}
	if dtype != BF16 && dtype != F16 && dtype != F32 {
		return nil, fmt.Errorf("synthetic weights: unsupported dtype %q (want BF16, F16 or F32)", dtype)
	}
	cfg.TorchDType = torchDType(dtype)
	w := &Weights{Config: cfg, DType: dtype, Source: fmt.Sprintf("synthetic:%d", seed)}
	specs := cfg.TensorSpecs()
	slots := w.slots()

	// One allocation, each tensor starting 64-byte aligned.
	esize := int64(dtype.Size())
	offs := make([]int64, len(specs)+1)
	for i, s := range specs {
		offs[i+1] = (offs[i] + s.NumElements()*esize + 63) &^ 63
	}
	if offs[len(specs)] > math.MaxInt {
		return nil, fmt.Errorf("synthetic weights: %d bytes do not fit in memory", offs[len(specs)])
	}
	buf := make([]byte, offs[len(specs)])
	for i, s := range specs {
		end := offs[i] + s.NumElements()*esize
		*slots[i] = Tensor{Name: s.Name, DType: dtype, Shape: s.Shape, Data: buf[offs[i]:end:end]}
	}
	if cfg.TieWordEmbeddings {
		w.LMHead = w.Embed
	}

	type job struct{ tensor, chunk int }
	var jobs []job
	for i, s := range specs {
		for c := int64(0); c*synthChunk < s.NumElements(); c++ {
			jobs = append(jobs, job{i, int(c)})
		}
	}
	weightTab, normTab := quantileTable(dtype, 0, synthStd), quantileTable(dtype, 1, synthNormStd)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(jobs) {
					return
				}
				j := jobs[k]
				tab := weightTab
				if len(specs[j.tensor].Shape) == 1 {
					tab = normTab
				}
				data := slots[j.tensor].Data
				lo := int64(j.chunk) * synthChunk * esize
				hi := min(lo+synthChunk*esize, int64(len(data)))
				r := wyrand(mix(seed, uint64(j.tensor), uint64(j.chunk)))
				fillFrom(data[lo:hi], tab, esize, &r)
			}
		}()
	}
	wg.Wait()
	return w, nil
}

// quantiles are the table's values: mean + std * Φ⁻¹((i+0.5)/65536),
// encoded in a dtype, as uint16 (bf16, f16) or uint32 (f32) bit patterns.
type quantiles struct {
	u16 *[1 << 16]uint16
	u32 *[1 << 16]uint32
}

func quantileTable(dtype DType, mean, std float64) quantiles {
	var q quantiles
	if dtype == F32 {
		q.u32 = new([1 << 16]uint32)
	} else {
		q.u16 = new([1 << 16]uint16)
	}
	for i := range 1 << 16 {
		p := (float64(i) + 0.5) / (1 << 16)
		v := float32(mean + std*math.Sqrt2*math.Erfinv(2*p-1))
		switch dtype {
		case F32:
			q.u32[i] = math.Float32bits(v)
		case BF16:
			q.u16[i] = F32ToBF16(v)
		default:
			q.u16[i] = F32ToF16(v)
		}
	}
	return q
}

// fillFrom fills dst with table values picked by 16-bit random indices, four
// per 64-bit PRNG output.
func fillFrom(dst []byte, q quantiles, esize int64, r *wyrand) {
	if esize == 4 {
		t := q.u32
		for len(dst) >= 16 {
			x := r.next()
			binary.LittleEndian.PutUint64(dst, uint64(t[uint16(x)])|uint64(t[uint16(x>>16)])<<32)
			binary.LittleEndian.PutUint64(dst[8:], uint64(t[uint16(x>>32)])|uint64(t[uint16(x>>48)])<<32)
			dst = dst[16:]
		}
		for x := r.next(); len(dst) >= 4; x >>= 16 {
			binary.LittleEndian.PutUint32(dst, t[uint16(x)])
			dst = dst[4:]
		}
		return
	}
	t := q.u16
	for len(dst) >= 8 {
		x := r.next()
		binary.LittleEndian.PutUint64(dst, uint64(t[uint16(x)])|uint64(t[uint16(x>>16)])<<16|
			uint64(t[uint16(x>>32)])<<32|uint64(t[uint16(x>>48)])<<48)
		dst = dst[8:]
	}
	for x := r.next(); len(dst) >= 2; x >>= 16 {
		binary.LittleEndian.PutUint16(dst, t[uint16(x)])
		dst = dst[2:]
	}
}

// wyrand is a fast 64-bit PRNG (Wang Yi's wyrand), ample for test weights.
type wyrand uint64

func (r *wyrand) next() uint64 {
	*r += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(uint64(*r), uint64(*r^0xe7037ed1a0b428db))
	return hi ^ lo
}

// mix derives an independent stream seed from the seed, a tensor index and
// a chunk index (splitmix64 finalizer over each).
func mix(seed, tensor, chunk uint64) uint64 {
	return splitmix(splitmix(splitmix(seed)^tensor) ^ chunk)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
