package models

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hfLlama32Config is Llama 3.2 1B Instruct's config.json as published.
const hfLlama32Config = `{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 8192,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 16,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 32.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": true,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}`

func TestParseConfigHF(t *testing.T) {
	c, err := ParseConfig([]byte(hfLlama32Config))
	if err != nil {
		t.Fatal(err)
	}
	want := Llama32_1B()
	if c.Hash() != want.Hash() {
		t.Errorf("parsed %+v\nwant   %+v", c, want)
	}
	gj, _ := json.Marshal(c)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("parsed config differs from the preset:\n%s\n%s", gj, wj)
	}
}

func TestPresets(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		params     int64
		kvBF16     int64
		kvF32      int64
		specsCount int
	}{
		{"llama32_1b", Llama32_1B(), 1_235_814_400, 32 << 10, 64 << 10, 1 + 16*9 + 1},
		{"tiny", Tiny(), 131_392, 2 * 2 * 2 * 16 * 2, 2 * 2 * 2 * 16 * 4, 1 + 2*9 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := tt.cfg.NumParams(); got != tt.params {
				t.Errorf("NumParams = %d, want %d", got, tt.params)
			}
			if got := tt.cfg.KVBytesPerToken(2); got != tt.kvBF16 {
				t.Errorf("KVBytesPerToken(2) = %d, want %d", got, tt.kvBF16)
			}
			if got := tt.cfg.KVBytesPerToken(4); got != tt.kvF32 {
				t.Errorf("KVBytesPerToken(4) = %d, want %d", got, tt.kvF32)
			}
			if got := len(tt.cfg.TensorSpecs()); got != tt.specsCount {
				t.Errorf("%d tensor specs, want %d", got, tt.specsCount)
			}
		})
	}
	// 24 tokens of fp32 KV: the write-up's 1.58 MB.
	if got := 24 * Llama32_1B().KVBytesPerToken(4); got != 1_572_864 {
		t.Errorf("24-token fp32 KV = %d bytes", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,
		"num_attention_heads":2,"rms_norm_eps":1e-6,"rope_theta":10000,"max_position_embeddings":32,
		"eos_token_id":3,"rope_scaling":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadDim != 4 || c.NumKeyValueHeads != 2 || c.RopeScaling != nil || len(c.EOSTokenIDs) != 1 || c.EOSTokenIDs[0] != 3 {
		t.Errorf("defaults not applied: %+v", c)
	}
	// The older "type" spelling of rope_type.
	c, err = ParseConfig([]byte(strings.Replace(hfLlama32Config, `"rope_type"`, `"type"`, 1)))
	if err != nil || c.RopeScaling == nil || c.RopeScaling.RopeType != "llama3" {
		t.Errorf("rope_scaling.type: %+v, %v", c.RopeScaling, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, from, to, want string
	}{
		{"bad JSON", `"vocab_size": 128256`, `"vocab_size": }`, "config: invalid character"},
		{"vocab zero", `"vocab_size": 128256`, `"vocab_size": 0`, "config: vocab_size: 0 is not in [1, 16777216]"},
		{"vocab string", `"vocab_size": 128256`, `"vocab_size": "big"`, "vocab_size"},
		{"hidden negative", `"hidden_size": 2048`, `"hidden_size": -1`, "config: hidden_size: -1"},
		{"layers zero", `"num_hidden_layers": 16`, `"num_hidden_layers": 0`, "config: num_hidden_layers: 0"},
		{"gqa mismatch", `"num_key_value_heads": 8`, `"num_key_value_heads": 7`, "config: num_key_value_heads: 7 does not divide num_attention_heads 32"},
		{"odd head_dim", `"head_dim": 64`, `"head_dim": 63`, "config: head_dim: 63 is odd"},
		{"eps zero", `"rms_norm_eps": 1e-05`, `"rms_norm_eps": 0`, "config: rms_norm_eps: 0 is not a positive number"},
		{"theta negative", `"rope_theta": 500000.0`, `"rope_theta": -1`, "config: rope_theta: -1"},
		{"rope type", `"rope_type": "llama3"`, `"rope_type": "yarn"`, `config: rope_scaling.rope_type: "yarn" is not supported`},
		{"rope factor", `"factor": 32.0`, `"factor": 0.5`, "config: rope_scaling.factor: 0.5"},
		{"rope low", `"low_freq_factor": 1.0`, `"low_freq_factor": 0`, "config: rope_scaling.low_freq_factor: 0"},
		{"rope high", `"high_freq_factor": 4.0`, `"high_freq_factor": 0.5`, "config: rope_scaling.high_freq_factor: 0.5 is not greater than low_freq_factor 1"},
		{"rope orig", `"original_max_position_embeddings": 8192`, `"original_max_position_embeddings": 0`, "config: rope_scaling.original_max_position_embeddings: 0"},
		{"rope scaling not object", `"rope_scaling": {`, `"rope_scaling": 3, "x": {`, "config: rope_scaling:"},
		{"bos outside vocab", `"bos_token_id": 128000`, `"bos_token_id": 200000`, "config: bos_token_id: 200000 is outside the vocabulary"},
		{"eos outside vocab", `128001, 128008`, `128001, -1`, "config: eos_token_id: -1 is outside the vocabulary"},
		{"eos not a number", `[128001, 128008, 128009]`, `"x"`, "eos_token_id"},
		{"model type", `"model_type": "llama"`, `"model_type": "mistral"`, `config: model_type: "mistral" is not llama`},
		{"activation", `"hidden_act": "silu"`, `"hidden_act": "gelu"`, `config: hidden_act: "gelu" is not supported`},
		{"attention bias", `"attention_bias": false`, `"attention_bias": true`, "config: attention_bias"},
		{"mlp bias", `"mlp_bias": false`, `"mlp_bias": true`, "config: mlp_bias"},
		{"torch dtype", `"torch_dtype": "bfloat16"`, `"torch_dtype": "int8"`, `config: torch_dtype: "int8"`},
		{"max positions", `"max_position_embeddings": 131072`, `"max_position_embeddings": 0`, "config: max_position_embeddings: 0"},
		{"absurd hidden", `"hidden_size": 2048`, `"hidden_size": 99999999999`, "config: hidden_size: 99999999999 is not in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(hfLlama32Config, tt.from) {
				t.Fatalf("test edits %q, which the config does not contain", tt.from)
			}
			_, err := ParseConfig([]byte(strings.Replace(hfLlama32Config, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"vocab_size": 0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "vocab_size") {
		t.Errorf("error %v should name %s and vocab_size", err, path)
	}
}

func TestConfigHash(t *testing.T) {
	base := Llama32_1B()
	h := base.Hash()
	if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
		t.Fatalf("hash %q", h)
	}
	same := base
	same.TorchDType, same.EOSTokenIDs, same.MaxPositionEmbeddings = "float32", nil, 1024
	if same.Hash() != h {
		t.Error("hash depends on fields that do not change the arithmetic")
	}
	edits := map[string]func(*Config){
		"layers":  func(c *Config) { c.NumHiddenLayers = 15 },
		"kv":      func(c *Config) { c.NumKeyValueHeads = 4 },
		"eps":     func(c *Config) { c.RMSNormEps = 1e-6 },
		"theta":   func(c *Config) { c.RopeTheta = 10000 },
		"tie":     func(c *Config) { c.TieWordEmbeddings = false },
		"scaling": func(c *Config) { c.RopeScaling = nil },
		"factor":  func(c *Config) { rs := *c.RopeScaling; rs.Factor = 8; c.RopeScaling = &rs },
	}
	for name, edit := range edits {
		c := Llama32_1B()
		edit(&c)
		if c.Hash() == h {
			t.Errorf("%s: hash unchanged", name)
		}
	}
	if Llama32_1B().Hash() != h {
		t.Error("hash is not deterministic")
	}
}

// FuzzParseConfig: no input panics, and an accepted config survives a
// marshal/parse round trip unchanged.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(hfLlama32Config))
	tj, _ := json.Marshal(Tiny())
	f.Add(tj)
	f.Add([]byte(`{"vocab_size":1,"hidden_size":2,"intermediate_size":1,"num_hidden_layers":1,"num_attention_heads":1,"rms_norm_eps":1,"rope_theta":1,"max_position_embeddings":1}`))
	f.Add([]byte(`{"rope_scaling":{"type":"llama3"},"eos_token_id":[1,2]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if again.Hash() != c.Hash() {
			t.Fatalf("round trip changed the config: %s", out)
		}
	})
}
