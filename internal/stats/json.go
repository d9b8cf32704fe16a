package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Float is a float64 that survives JSON: finite values encode as numbers
// and NaN and ±Inf as null (encoding/json refuses them otherwise, and a
// numeric field holding a string breaks every other JSON reader). It
// decodes null as NaN, and also the strings "NaN", "+Inf" and "-Inf" that
// schema-1 result files hold.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(x)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "null", `"NaN"`:
		*f = Float(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Float(math.Inf(-1))
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("stats: invalid number %s", b)
	}
	*f = Float(x)
	return nil
}

// summaryJSON mirrors Summary with JSON-safe floats.
type summaryJSON struct {
	N         int      `json:"n"`
	Min       Float    `json:"min"`
	Max       Float    `json:"max"`
	Mean      Float    `json:"mean"`
	SD        Float    `json:"sd"`
	Median    Float    `json:"median"`
	P90       Float    `json:"p90"`
	P99       Float    `json:"p99"`
	CILo      Float    `json:"ci_lo"`
	CIHi      Float    `json:"ci_hi"`
	CILevel   Float    `json:"ci_level"`
	NonFinite int      `json:"non_finite,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// MarshalJSON implements json.Marshaler; non-finite values are null (see
// Float): an interval too small to bound is null at both ends, and
// Warnings say why.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{
		N: s.N, Min: Float(s.Min), Max: Float(s.Max), Mean: Float(s.Mean), SD: Float(s.SD),
		Median: Float(s.Median), P90: Float(s.P90), P99: Float(s.P99),
		CILo: Float(s.CILo), CIHi: Float(s.CIHi), CILevel: Float(s.CILevel),
		NonFinite: s.NonFinite, Warnings: s.Warnings,
	})
}

// UnmarshalJSON implements json.Unmarshaler; see Float for non-finite values.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{
		N: j.N, Min: float64(j.Min), Max: float64(j.Max), Mean: float64(j.Mean), SD: float64(j.SD),
		Median: float64(j.Median), P90: float64(j.P90), P99: float64(j.P99),
		CILo: float64(j.CILo), CIHi: float64(j.CIHi), CILevel: float64(j.CILevel),
		NonFinite: j.NonFinite, Warnings: j.Warnings,
	}
	return nil
}
