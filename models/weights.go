package models

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// Tensor is one weight tensor: its Hugging Face name, dtype, shape (row-major,
// [out, in] for projections, as torch.nn.Linear stores them) and raw
// little-endian bytes.
type Tensor = safetensors.Tensor

// Layer holds one transformer block's weights.
type Layer struct {
	AttnNorm Tensor // input_layernorm.weight [hidden]
	Q        Tensor // self_attn.q_proj.weight [heads*head_dim, hidden]
	K        Tensor // self_attn.k_proj.weight [kv_heads*head_dim, hidden]
	V        Tensor // self_attn.v_proj.weight [kv_heads*head_dim, hidden]
	O        Tensor // self_attn.o_proj.weight [hidden, heads*head_dim]
	MLPNorm  Tensor // post_attention_layernorm.weight [hidden]
	Gate     Tensor // mlp.gate_proj.weight [intermediate, hidden]
	Up       Tensor // mlp.up_proj.weight [intermediate, hidden]
	Down     Tensor // mlp.down_proj.weight [hidden, intermediate]
}

// Weights are a Llama model's tensors, stated once, in one dtype. The data
// is host memory the Weights own (Synthetic) or a read-only mapping of a
// safetensors file (LoadDir), valid until Close.
type Weights struct {
	Config Config
	// DType is the element type of every tensor.
	DType DType
	// Source says where the numbers come from, for results provenance:
	// "sha256:<hex>" of model.safetensors (set it with FileSHA256) or
	// "synthetic:<seed>".
	Source string
	// Path is the model.safetensors file the weights map ("" if synthetic).
	Path string

	Embed     Tensor // model.embed_tokens.weight [vocab, hidden]
	Layers    []Layer
	FinalNorm Tensor // model.norm.weight [hidden]
	// LMHead is lm_head.weight [vocab, hidden]; when the config ties word
	// embeddings it is Embed itself (same name and bytes).
	LMHead Tensor

	file *safetensors.File
}

// TensorSpec names one tensor a config calls for and its shape.
type TensorSpec struct {
	Name  string
	Shape []int
}

// NumElements returns the product of the shape.
func (s TensorSpec) NumElements() int64 {
	n := int64(1)
	for _, d := range s.Shape {
		n *= int64(d)
	}
	return n
}

// Hugging Face tensor names.
const (
	NameEmbed     = "model.embed_tokens.weight"
	NameFinalNorm = "model.norm.weight"
	NameLMHead    = "lm_head.weight"
)

// LayerTensorName returns the Hugging Face name of a layer tensor, e.g.
// LayerTensorName(3, "self_attn.q_proj") = "model.layers.3.self_attn.q_proj.weight".
func LayerTensorName(layer int, part string) string {
	return fmt.Sprintf("model.layers.%d.%s.weight", layer, part)
}

// layerParts are the per-layer tensor names in the order of Layer's fields.
var layerParts = [...]string{
	"input_layernorm",
	"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
	"post_attention_layernorm",
	"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
}

// TensorSpecs lists every tensor the config calls for, in the order Weights
// states them (embeddings, each layer in compute order, final norm, then
// lm_head only when embeddings are not tied).
func (c Config) TensorSpecs() []TensorSpec {
	h, qd, kvd, in := c.HiddenSize, c.NumAttentionHeads*c.HeadDim, c.NumKeyValueHeads*c.HeadDim, c.IntermediateSize
	specs := make([]TensorSpec, 0, 3+len(layerParts)*c.NumHiddenLayers)
	specs = append(specs, TensorSpec{NameEmbed, []int{c.VocabSize, h}})
	for i := 0; i < c.NumHiddenLayers; i++ {
		shapes := [len(layerParts)][]int{{h}, {qd, h}, {kvd, h}, {kvd, h}, {h, qd}, {h}, {in, h}, {in, h}, {h, in}}
		for j, part := range layerParts {
			specs = append(specs, TensorSpec{LayerTensorName(i, part), shapes[j]})
		}
	}
	specs = append(specs, TensorSpec{NameFinalNorm, []int{h}})
	if !c.TieWordEmbeddings {
		specs = append(specs, TensorSpec{NameLMHead, []int{c.VocabSize, h}})
	}
	return specs
}

// slots returns pointers to the tensor fields in TensorSpecs order, after
// sizing Layers for the config.
func (w *Weights) slots() []*Tensor {
	if len(w.Layers) != w.Config.NumHiddenLayers {
		w.Layers = make([]Layer, w.Config.NumHiddenLayers)
	}
	s := []*Tensor{&w.Embed}
	for i := range w.Layers {
		l := &w.Layers[i]
		s = append(s, &l.AttnNorm, &l.Q, &l.K, &l.V, &l.O, &l.MLPNorm, &l.Gate, &l.Up, &l.Down)
	}
	s = append(s, &w.FinalNorm)
	if !w.Config.TieWordEmbeddings {
		s = append(s, &w.LMHead)
	}
	return s
}

// Tensors returns every distinct tensor in TensorSpecs order (lm_head only
// when untied), e.g. to write them out.
func (w *Weights) Tensors() []Tensor {
	out := make([]Tensor, 0, 3+len(layerParts)*len(w.Layers))
	out = append(out, w.Embed)
	for _, l := range w.Layers {
		out = append(out, l.AttnNorm, l.Q, l.K, l.V, l.O, l.MLPNorm, l.Gate, l.Up, l.Down)
	}
	out = append(out, w.FinalNorm)
	if !w.Config.TieWordEmbeddings {
		out = append(out, w.LMHead)
	}
	return out
}

// Bytes returns the total size of the distinct tensors in bytes.
func (w *Weights) Bytes() int64 {
	var n int64
	for _, t := range w.Tensors() {
		n += int64(len(t.Data))
	}
	return n
}

// Close releases the file mapping of loaded weights (a no-op for synthetic
// ones). Tensor data must not be used afterwards.
func (w *Weights) Close() error {
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	return err
}
