package tenants

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmgpu/wasmgpu/report"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llmhost"
)

// Budget is the memory a plan's guests and weights must fit in: the
// device's own memory where the guests' linear memories live on it, else
// the host's.
type Budget struct {
	Bytes uint64
	// What names the memory and where its size came from, for a refusal.
	What string
}

// DeviceBudget is the memory d's tenants live in: a GPU's memory where it
// reports its size (Info().Props["memory_total_bytes"]; cuda managed
// guests migrate there), else the host's RAM (cpu, and a GPU that does not
// say). ok is false when neither is known.
func DeviceBudget(d device.Device) (b Budget, ok bool) {
	info := d.Info()
	if v, err := strconv.ParseUint(info.Props["memory_total_bytes"], 10, 64); err == nil && v > 0 {
		return Budget{Bytes: v, What: fmt.Sprintf("the %s device's memory (%s, memory_total_bytes)", info.Backend, report.Bytes(float64(v)))}, true
	}
	if v := results.CollectHost().MemoryBytes; v > 0 {
		return Budget{Bytes: v, What: fmt.Sprintf("the host's memory (%s, MemTotal)", report.Bytes(float64(v)))}, true
	}
	return Budget{}, false
}

// GuestBytes is the linear memory one tenant's guest is sized for
// (llmhost.MemoryBytes: KV cache for max_seq, activations for max_batch
// tokens, room for the guest's runtime).
func (p Plan) GuestBytes() uint64 {
	return llmhost.MemoryBytes(p.Config, llmhost.Options{KV: p.KV, MaxSeq: p.MaxSeq, MaxBatch: p.MaxBatch})
}

// WeightBytes is the size of the model's weights in the plan's dtype, held
// once for every tenant.
func (p Plan) WeightBytes() uint64 {
	return uint64(p.Config.NumParams()) * uint64(p.WeightsDType.Size())
}

// CheckMemory refuses, before anything runs, a number of tenants whose
// guests and the weights do not fit b: weights + N × GuestBytes > b.Bytes.
// The error names the YAML path of the count (or the -set flag), the
// sizes and the limit.
func (p Plan) CheckMemory(b Budget) error {
	guest, weights := p.GuestBytes(), p.WeightBytes()
	for i, n := range p.Tenants {
		need := weights + uint64(n)*guest
		if need <= b.Bytes {
			continue
		}
		msg := fmt.Sprintf("%d tenants need %s (weights %s + %d × %s of guest memory: KV cache for max_seq %d, activations for max_batch %d), more than %s",
			n, report.Bytes(float64(need)), report.Bytes(float64(weights)), n, report.Bytes(float64(guest)), p.MaxSeq, p.MaxBatch, b.What)
		if strings.HasPrefix(p.TenantsAt, "$") {
			return p.src.Errorf(fmt.Sprintf("%s[%d]", p.TenantsAt, i), "%s", msg)
		}
		return fmt.Errorf("%s=%d: %s", p.TenantsAt, n, msg)
	}
	return nil
}
