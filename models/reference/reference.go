// Package reference holds what our Llama engine is checked against: the
// logits Hugging Face transformers computes for the same weights and prompt
// (hf_logits.py, README.md). It reads hf_logits.py's output, runs an engine
// over a prompt the way every check does (Check: a prefill pass that keeps
// every row's logits, then one decode step per token) and measures the
// difference. Tiny is the committed fixture, embedded so that a test binary
// carried to a GPU machine has it too.
//
// It knows no device and no engine: a check passes it a Runner.
package reference

import (
	"embed"
	"encoding/json"
	"fmt"
	"math"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/models"
)

// Tolerances of a check against the fixture: max |Δlogit| / max |logit|.
// The weights are bf16, exact in both implementations, so the differences
// are float32 arithmetic against HF's float64 (sums over at most a few
// hundred terms: ~1e-7 at Tiny size, 3.6e-6 measured at full Llama 3.2 1B
// size) and, with a bf16 KV cache, the rounding of every key and value to 8
// significant bits (2^-9 relative: 6.5e-4 measured at Tiny size, 6.2e-3 at
// full size). The bounds leave room above both, and for a GPU's summation
// order and transcendental functions.
const (
	TolF32KV  = 1e-5
	TolBF16KV = 1e-2
)

// Fixture is a model, a prompt and Hugging Face's logits for it.
type Fixture struct {
	Weights *models.Weights
	Tokens  []int32
	Logits  [][]float32 // [len(Tokens)][vocab], float64 logits rounded to float32
	InvFreq []float32   // HF's RoPE inverse frequencies
}

//go:embed testdata/tiny/config.json testdata/tiny/model.safetensors testdata/tiny/tokens.json testdata/tiny/hf_logits.safetensors
var tiny embed.FS

// Tiny is the committed fixture (testdata/tiny): the Tiny config with
// synthetic bf16 weights (seed 1), 20 prompt ids, and the logits transformers
// computed for them in float64.
func Tiny() (*Fixture, error) {
	read := func(name string) []byte {
		b, _ := tiny.ReadFile("testdata/tiny/" + name) // embedded: present
		return b
	}
	w, err := models.Parse("tiny", read(models.ConfigFile), read(models.WeightsFile))
	if err != nil {
		return nil, err
	}
	f := &Fixture{Weights: w}
	if err := json.Unmarshal(read("tokens.json"), &f.Tokens); err != nil {
		return nil, fmt.Errorf("tiny fixture: tokens.json: %w", err)
	}
	st, err := safetensors.Parse("tiny/hf_logits.safetensors", read("hf_logits.safetensors"))
	if err != nil {
		return nil, err
	}
	if f.Logits, f.InvFreq, err = readHF(st); err != nil {
		return nil, err
	}
	if len(f.Logits) != len(f.Tokens) || len(f.Logits[0]) != w.Config.VocabSize {
		return nil, fmt.Errorf("tiny fixture: %d logits rows of %d, want %d of %d", len(f.Logits), len(f.Logits[0]), len(f.Tokens), w.Config.VocabSize)
	}
	return f, nil
}

// ReadLogits reads hf_logits.py's output: logits [n, vocab] and inv_freq.
func ReadLogits(path string) (logits [][]float32, invFreq []float32, err error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	l, inv, err := readHF(f)
	if err != nil {
		return nil, nil, err
	}
	// The rows are views of the mapping Close releases: copy them.
	for i := range l {
		l[i] = append([]float32(nil), l[i]...)
	}
	return l, append([]float32(nil), inv...), nil
}

func readHF(f *safetensors.File) (rows [][]float32, invFreq []float32, err error) {
	lt, ok := f.Tensor("logits")
	it, ok2 := f.Tensor("inv_freq")
	if !ok || !ok2 || len(lt.Shape) != 2 || lt.Shape[0] == 0 {
		return nil, nil, fmt.Errorf("%s: want tensors logits [n, vocab] and inv_freq", f.Path())
	}
	flat, err := lt.Float32s()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	for r := range lt.Shape[0] {
		rows = append(rows, flat[r*lt.Shape[1]:(r+1)*lt.Shape[1]])
	}
	invFreq, err = it.Float32s()
	return rows, invFreq, err
}

// Runner runs tokens through an engine and returns a copy of the logits of
// every token (all) or of the last one.
type Runner func(tokens []int32, all bool) ([]float32, error)

// Errors are one run's differences from the reference logits.
type Errors struct {
	Positions   int     `json:"positions"`
	MaxAbsDiff  float64 `json:"max_abs_diff"`
	MaxAbsLogit float64 `json:"max_abs_logit"`
	ArgmaxAgree int     `json:"argmax_agree"`
	// NearTies counts argmax disagreements where the reference's top two
	// logits are closer than twice MaxAbsDiff: rounding may pick either.
	NearTies int `json:"near_ties"`
}

// Rel is MaxAbsDiff relative to MaxAbsLogit, what the tolerances bound.
func (e Errors) Rel() float64 { return e.MaxAbsDiff / e.MaxAbsLogit }

// Check runs tokens[:k] in one pass with every row's logits, then the rest
// one token at a time, and compares every position's logits with ref.
func Check(run Runner, tokens []int32, k int, ref [][]float32) (Errors, error) {
	var e Errors
	if k < 1 || k > len(tokens) || len(ref) != len(tokens) {
		return e, fmt.Errorf("reference check: prefill %d of %d tokens against %d rows", k, len(tokens), len(ref))
	}
	vocab := len(ref[0])
	got, err := run(tokens[:k], true)
	if err != nil {
		return e, err
	}
	if len(got) != k*vocab {
		return e, fmt.Errorf("reference check: %d logits for %d rows of %d", len(got), k, vocab)
	}
	var rows [][]float32
	for r := range k {
		rows = append(rows, got[r*vocab:(r+1)*vocab])
	}
	for p := k; p < len(tokens); p++ {
		row, err := run(tokens[p:p+1], false)
		if err != nil {
			return e, err
		}
		if len(row) != vocab {
			return e, fmt.Errorf("reference check: %d logits at position %d, want %d", len(row), p, vocab)
		}
		rows = append(rows, row)
	}
	for p, row := range rows {
		for i, v := range row {
			e.MaxAbsDiff = max(e.MaxAbsDiff, math.Abs(float64(v)-float64(ref[p][i])))
			e.MaxAbsLogit = max(e.MaxAbsLogit, math.Abs(float64(ref[p][i])))
		}
	}
	for p, row := range rows {
		e.Positions++
		a, b := argmax(row), argmax(ref[p])
		if a == b {
			e.ArgmaxAgree++
		} else if gap := math.Abs(float64(ref[p][a]) - float64(ref[p][b])); gap < 2*e.MaxAbsDiff {
			e.NearTies++
		}
	}
	return e, nil
}

// Check runs the fixture's prompt through run: Check with f's tokens and
// logits.
func (f *Fixture) Check(run Runner, k int) (Errors, error) {
	return Check(run, f.Tokens, k, f.Logits)
}

// CompareInvFreq counts inverse frequencies that differ and the largest
// relative difference.
func CompareInvFreq(ours, hf []float32) (mismatch int, maxRel float64) {
	for i := range min(len(ours), len(hf)) {
		if ours[i] != hf[i] {
			mismatch++
			maxRel = max(maxRel, math.Abs(float64(ours[i])-float64(hf[i]))/math.Abs(float64(hf[i])))
		}
	}
	return mismatch + max(len(ours)-len(hf), len(hf)-len(ours)), maxRel
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
