package llm

import (
	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// LayerIDs are one transformer block's weight tensor ids, in compute order.
type LayerIDs struct {
	AttnNorm, Q, K, V, O, MLPNorm, Gate, Up, Down int
}

// TensorIDs are the weight tensor ids the forward pass uses. The canonical
// order is models.Config.TensorSpecs: embeddings 0, then 9 per layer
// (AttnNorm, Q, K, V, O, MLPNorm, Gate, Up, Down), then the final norm, then
// lm_head only when it is not tied to the embeddings (tied: LMHead = Embed).
type TensorIDs struct {
	Embed     int
	Layers    []LayerIDs
	FinalNorm int
	LMHead    int
}

// IDs returns the tensor ids of cfg's model in the canonical order.
func IDs(cfg models.Config) TensorIDs {
	ids := TensorIDs{Embed: 0, Layers: make([]LayerIDs, cfg.NumHiddenLayers)}
	next := 1
	for i := range ids.Layers {
		b := next
		ids.Layers[i] = LayerIDs{b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8}
		next += 9
	}
	ids.FinalNorm, ids.LMHead = next, ids.Embed
	if !cfg.TieWordEmbeddings {
		ids.LMHead = next + 1
	}
	return ids
}

// WeightTensors lists w's tensors in the canonical order, for
// device.LLMDevice.LoadWeights. The data is not copied.
func WeightTensors(w *models.Weights) []device.WeightTensor {
	ts := w.Tensors()
	out := make([]device.WeightTensor, len(ts))
	for i, t := range ts {
		out[i] = device.WeightTensor{Name: t.Name, DType: string(t.DType), Shape: t.Shape, Data: t.Data}
	}
	return out
}
