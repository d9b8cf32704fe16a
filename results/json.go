package results

import (
	"encoding/json"

	"github.com/wasmgpu/wasmgpu/internal/stats"
)

// caseJSON mirrors Case with JSON-safe floats (see stats.Float).
type caseJSON struct {
	Group   string                 `json:"group"`
	Params  map[string]stats.Float `json:"params,omitempty"`
	Variant string                 `json:"variant"`
	Unit    string                 `json:"unit,omitempty"`
	Warmup  []stats.Float          `json:"warmup,omitempty"`
	Samples []stats.Float          `json:"samples"`
	Reps    []int                  `json:"reps,omitempty"`
	Summary stats.Summary          `json:"summary"`
	Metrics map[string]stats.Float `json:"metrics,omitempty"`
	Labels  map[string]string      `json:"labels,omitempty"`
}

// MarshalJSON implements json.Marshaler; non-finite values become null.
func (c Case) MarshalJSON() ([]byte, error) {
	samples := toFloats(c.Samples)
	if samples == nil {
		samples = []stats.Float{} // "samples": [] rather than null
	}
	return json.Marshal(caseJSON{
		Group: c.Group, Params: toFloatMap(c.Params), Variant: c.Variant, Unit: c.Unit,
		Warmup: toFloats(c.Warmup), Samples: samples, Reps: c.Reps, Summary: c.Summary,
		Metrics: toFloatMap(c.Metrics), Labels: c.Labels,
	})
}

// UnmarshalJSON implements json.Unmarshaler.
func (c *Case) UnmarshalJSON(b []byte) error {
	var j caseJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Case{
		Group: j.Group, Params: fromFloatMap(j.Params), Variant: j.Variant, Unit: j.Unit,
		Warmup: fromFloats(j.Warmup), Samples: fromFloats(j.Samples), Reps: j.Reps, Summary: j.Summary,
		Metrics: fromFloatMap(j.Metrics), Labels: j.Labels,
	}
	return nil
}

func toFloats(xs []float64) []stats.Float {
	if xs == nil {
		return nil
	}
	out := make([]stats.Float, len(xs))
	for i, x := range xs {
		out[i] = stats.Float(x)
	}
	return out
}

func fromFloats(xs []stats.Float) []float64 {
	if xs == nil {
		return nil
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func toFloatMap(m map[string]float64) map[string]stats.Float {
	if m == nil {
		return nil
	}
	out := make(map[string]stats.Float, len(m))
	for k, v := range m {
		out[k] = stats.Float(v)
	}
	return out
}

func fromFloatMap(m map[string]stats.Float) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = float64(v)
	}
	return out
}
