package experiments

import (
	"fmt"
	"math/rand/v2"

	"github.com/wasmgpu/wasmgpu/models"
)

// LoadWeights returns the weights an LLM experiment runs on: the Hugging
// Face folder dir when given (its sha256 becomes the weights' Source), else
// synthetic weights of cfg's exact architecture from seed ("synthetic:<seed>").
// Token latency does not depend on the weights' values, so synthetic weights
// measure speed honestly; correctness is checked against a reference in tests.
func LoadWeights(dir string, cfg models.Config, seed uint64, dt models.DType) (*models.Weights, error) {
	if dir == "" {
		w, err := models.Synthetic(cfg, seed, dt)
		if err != nil {
			return nil, fmt.Errorf("synthetic weights: %w", err)
		}
		return w, nil
	}
	w, err := models.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	sum, err := models.FileSHA256(w.Path)
	if err != nil {
		w.Close()
		return nil, err
	}
	w.Source = sum
	return w, nil
}

// PromptIDs returns n token ids drawn from seed, below the first special
// token (128000 in Llama 3) so they are ordinary text tokens.
func PromptIDs(seed uint64, n, vocab int) []int32 {
	limit := min(vocab, 128000)
	r := rand.New(rand.NewPCG(seed, 0x70726f6d7074))
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(r.IntN(limit))
	}
	return ids
}
