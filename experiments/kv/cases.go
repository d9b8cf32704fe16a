package kv

import (
	"fmt"
	"slices"

	"github.com/wasmgpu/wasmgpu/internal/stats"
	"github.com/wasmgpu/wasmgpu/results"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// speedupBase is the recompute operation each restore operation is
// compared with.
var speedupBase = map[string]string{
	OpRestoreWarm:  OpRePrefill,
	OpRestoreCold:  OpRePrefill,
	OpMigrate:      OpRePrefill,
	OpRestoreToken: OpRePrefillToken,
}

// cases turns kind k's measurements at context length n into one case per
// operation: the first repetition as the warm-up, the rest as samples.
func (k *kind) cases(n int, kv device.KVDType) []results.Case {
	checks := "identical"
	if len(k.wrong) > 0 {
		checks = fmt.Sprintf("MISMATCH (%d)", len(k.wrong))
	}
	var out []results.Case
	for _, op := range ops {
		t := k.t[op]
		if len(t) == 0 {
			continue
		}
		timed := t[1:]
		med := stats.Summarize(timed).Median
		m := map[string]float64{}
		switch op {
		case OpSnapshot, OpRestoreWarm, OpRestoreCold, OpDiskRead:
			m["bytes"] = float64(k.size)
			m["Bps"] = float64(k.size) / med
		case OpMigrate:
			m["bytes"] = float64(k.sent)
			m["Bps"] = float64(k.sent) / med
		}
		if base, ok := speedupBase[op]; ok && len(k.t[base]) > 1 {
			s := SpeedupCI(k.t[base][1:], timed)
			m["speedup"], m["speedup_ci_lo"], m["speedup_ci_hi"], m["speedup_p"] = s.Ratio, s.Lo, s.Hi, s.P
		}
		if op == OpDecodeAfterRestore && len(k.t[OpDecodeAfterPrefill]) > 1 {
			// How many decode steps the first one after a restore costs.
			s := SpeedupCI(timed, k.t[OpDecodeAfterPrefill][1:])
			m["penalty"], m["penalty_ci_lo"], m["penalty_ci_hi"], m["penalty_p"] = s.Ratio, s.Lo, s.Hi, s.P
		}
		if op == OpRestoreCold && len(k.drop) > 0 {
			m["resident_after_drop"] = slices.Max(k.drop)
		}
		out = append(out, results.Case{
			Group: fmt.Sprintf("ctx=%d", n), Variant: op + " " + k.name,
			Params: map[string]float64{"ctx": float64(n)},
			Warmup: t[:1], Samples: timed, Metrics: m,
			Labels: map[string]string{"op": op, "session": k.name, "kv_dtype": string(kv), "continuation": checks},
		}.Summarize())
	}
	return out
}
