package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/wasmgpu/wasmgpu/internal/regular"
)

// Config is a Llama model's architecture and tokens, as stated by a Hugging
// Face config.json. Field names follow the JSON keys.
type Config struct {
	VocabSize             int          `json:"vocab_size"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	TorchDType            string       `json:"torch_dtype,omitempty"`
	BOSTokenID            int          `json:"bos_token_id"`
	EOSTokenIDs           TokenIDs     `json:"eos_token_id"`
}

// RopeScaling is Llama 3's frequency-dependent RoPE scaling (rope_type
// "llama3"): wavelengths longer than OriginalMaxPositionEmbeddings /
// LowFreqFactor are divided by Factor, shorter than .../HighFreqFactor kept,
// and those between interpolated.
type RopeScaling struct {
	RopeType                      string  `json:"rope_type"`
	Factor                        float64 `json:"factor"`
	LowFreqFactor                 float64 `json:"low_freq_factor"`
	HighFreqFactor                float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
}

// TokenIDs is one token id or several: config.json states eos_token_id
// either way (Llama 3.2 Instruct lists three).
type TokenIDs []int

// UnmarshalJSON accepts a number, a list of numbers, or null.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = nil
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return err
		}
		*t = ids
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	*t = TokenIDs{id}
	return nil
}

// MarshalJSON writes a single id as a number and several as a list.
func (t TokenIDs) MarshalJSON() ([]byte, error) {
	if len(t) == 1 {
		return json.Marshal(t[0])
	}
	return json.Marshal([]int(t))
}

// maxDim bounds every size in a config, so that products of sizes cannot
// overflow and a corrupt file cannot ask for absurd allocations.
const maxDim = 1 << 24

// ParseConfig parses and validates a Hugging Face config.json. Keys it does
// not use are ignored; head_dim defaults to hidden_size/num_attention_heads
// and num_key_value_heads to num_attention_heads, as in transformers.
func ParseConfig(data []byte) (Config, error) {
	var raw struct {
		Config
		ModelType   string           `json:"model_type"`
		HiddenAct   string           `json:"hidden_act"`
		AttnBias    bool             `json:"attention_bias"`
		MLPBias     bool             `json:"mlp_bias"`
		RopeScaling *json.RawMessage `json:"rope_scaling"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c := raw.Config
	switch {
	case raw.ModelType != "" && raw.ModelType != "llama":
		return Config{}, fmt.Errorf("config: model_type: %q is not llama", raw.ModelType)
	case raw.HiddenAct != "" && raw.HiddenAct != "silu":
		return Config{}, fmt.Errorf("config: hidden_act: %q is not supported (want silu)", raw.HiddenAct)
	case raw.AttnBias:
		return Config{}, fmt.Errorf("config: attention_bias: true is not supported")
	case raw.MLPBias:
		return Config{}, fmt.Errorf("config: mlp_bias: true is not supported")
	}
	c.RopeScaling = nil
	if raw.RopeScaling != nil && !bytes.Equal(bytes.TrimSpace(*raw.RopeScaling), []byte("null")) {
		var rs struct {
			RopeScaling
			Type string `json:"type"` // older spelling of rope_type
		}
		if err := json.Unmarshal(*raw.RopeScaling, &rs); err != nil {
			return Config{}, fmt.Errorf("config: rope_scaling: %w", err)
		}
		if rs.RopeType == "" {
			rs.RopeType = rs.Type
		}
		if rs.RopeType != "default" {
			c.RopeScaling = &rs.RopeScaling
		}
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.HeadDim == 0 && c.NumAttentionHeads > 0 && c.HiddenSize%c.NumAttentionHeads == 0 {
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// maxConfigBytes is the largest config.json LoadConfig reads; a Llama's is
// about a kilobyte.
const maxConfigBytes = 1 << 20

// LoadConfig reads and validates the config.json at path, a regular file of
// at most a megabyte.
func LoadConfig(path string) (Config, error) {
	data, err := regular.ReadFile(path, maxConfigBytes)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks that the config describes a Llama model this project can
// run. Errors name the offending config.json field.
func (c Config) Validate() error {
	dims := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize},
		{"hidden_size", c.HiddenSize},
		{"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads},
		{"head_dim", c.HeadDim},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	for _, d := range dims {
		if d.v <= 0 || d.v > maxDim {
			return fmt.Errorf("config: %s: %d is not in [1, %d]", d.name, d.v, maxDim)
		}
	}
	switch {
	case c.NumHiddenLayers > 1<<12:
		return fmt.Errorf("config: num_hidden_layers: %d is more than %d", c.NumHiddenLayers, 1<<12)
	case c.NumAttentionHeads%c.NumKeyValueHeads != 0:
		return fmt.Errorf("config: num_key_value_heads: %d does not divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	case c.HeadDim%2 != 0:
		return fmt.Errorf("config: head_dim: %d is odd (RoPE rotates pairs)", c.HeadDim)
	case int64(c.NumAttentionHeads)*int64(c.HeadDim) > maxDim:
		return fmt.Errorf("config: head_dim: %d heads of %d is more than %d", c.NumAttentionHeads, c.HeadDim, maxDim)
	case !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0):
		return fmt.Errorf("config: rms_norm_eps: %v is not a positive number", c.RMSNormEps)
	case !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0):
		return fmt.Errorf("config: rope_theta: %v is not a positive number", c.RopeTheta)
	}
	switch c.TorchDType {
	case "", "bfloat16", "float16", "float32":
	default:
		return fmt.Errorf("config: torch_dtype: %q is not bfloat16, float16 or float32", c.TorchDType)
	}
	if c.BOSTokenID < 0 || c.BOSTokenID >= c.VocabSize {
		return fmt.Errorf("config: bos_token_id: %d is outside the vocabulary [0, %d)", c.BOSTokenID, c.VocabSize)
	}
	for _, id := range c.EOSTokenIDs {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("config: eos_token_id: %d is outside the vocabulary [0, %d)", id, c.VocabSize)
		}
	}
	if rs := c.RopeScaling; rs != nil {
		if rs.RopeType != "llama3" {
			return fmt.Errorf("config: rope_scaling.rope_type: %q is not supported (want llama3)", rs.RopeType)
		}
		switch {
		case !(rs.Factor >= 1) || math.IsInf(rs.Factor, 0):
			return fmt.Errorf("config: rope_scaling.factor: %v is not a number >= 1", rs.Factor)
		case !(rs.LowFreqFactor > 0) || math.IsInf(rs.LowFreqFactor, 0):
			return fmt.Errorf("config: rope_scaling.low_freq_factor: %v is not a positive number", rs.LowFreqFactor)
		case !(rs.HighFreqFactor > rs.LowFreqFactor) || math.IsInf(rs.HighFreqFactor, 0):
			return fmt.Errorf("config: rope_scaling.high_freq_factor: %v is not greater than low_freq_factor %v", rs.HighFreqFactor, rs.LowFreqFactor)
		case rs.OriginalMaxPositionEmbeddings <= 0 || rs.OriginalMaxPositionEmbeddings > maxDim:
			return fmt.Errorf("config: rope_scaling.original_max_position_embeddings: %d is not in [1, %d]", rs.OriginalMaxPositionEmbeddings, maxDim)
		}
	}
	return nil
}

// MarshalJSON writes the config as a Hugging Face config.json that
// transformers loads as LlamaForCausalLM.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // drops this method
	return json.Marshal(struct {
		Architectures []string `json:"architectures"`
		ModelType     string   `json:"model_type"`
		HiddenAct     string   `json:"hidden_act"`
		AttnBias      bool     `json:"attention_bias"`
		MLPBias       bool     `json:"mlp_bias"`
		InitRange     float64  `json:"initializer_range"`
		UseCache      bool     `json:"use_cache"`
		plain
	}{[]string{"LlamaForCausalLM"}, "llama", "silu", false, false, 0.02, true, plain(c)})
}

// Hash returns "sha256:<hex>" of a canonical encoding of every field that
// changes the model's arithmetic or the shape of its KV cache (not the
// dtype, token ids or maximum context). A KV snapshot records it, so a
// restore into a different architecture is refused.
func (c Config) Hash() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	s := fmt.Sprintf("llama\nvocab_size=%d\nhidden_size=%d\nintermediate_size=%d\nnum_hidden_layers=%d\nnum_attention_heads=%d\nnum_key_value_heads=%d\nhead_dim=%d\nrms_norm_eps=%s\nrope_theta=%s\ntie_word_embeddings=%t\n",
		c.VocabSize, c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, f(c.RMSNormEps), f(c.RopeTheta), c.TieWordEmbeddings)
	if rs := c.RopeScaling; rs != nil {
		s += fmt.Sprintf("rope_scaling=%s,%s,%s,%s,%d\n", rs.RopeType, f(rs.Factor), f(rs.LowFreqFactor), f(rs.HighFreqFactor), rs.OriginalMaxPositionEmbeddings)
	}
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// KVBytesPerToken returns the KV-cache bytes one token occupies at dtypeSize
// bytes per element: keys and values, every layer, every KV head.
// Llama 3.2 1B: 32 KiB in bf16, 64 KiB in fp32.
func (c Config) KVBytesPerToken(dtypeSize int) int64 {
	return 2 * int64(c.NumHiddenLayers) * int64(c.NumKeyValueHeads) * int64(c.HeadDim) * int64(dtypeSize)
}

// NumParams returns the number of weight parameters (lm_head counted once
// when tied to the embeddings). Llama 3.2 1B: 1,235,814,400.
func (c Config) NumParams() int64 {
	var n int64
	for _, s := range c.TensorSpecs() {
		n += s.NumElements()
	}
	return n
}
