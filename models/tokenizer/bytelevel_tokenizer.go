package tokenizer

import (
	"encoding/json"
	"fmt"
)

// ByteLevelSpecials are the special tokens of a NewByteLevel tokenizer, with
// ids 256 onwards in this order.
var ByteLevelSpecials = []string{
	"<|begin_of_text|>",
	"<|end_of_text|>",
	"<|start_header_id|>",
	"<|end_header_id|>",
	"<|eot_id|>",
}

// NewByteLevel returns a small tokenizer for tests that must not depend on
// the real Llama 3 files: token i < 256 is byte i (no merges), ids 256 to
// 260 are ByteLevelSpecials, and any further ids up to vocabSize-1 are
// <|reserved_special_token_K|> with K from 0. It uses the Llama 3
// pre-tokenizer and chat format, and AddSpecial prepends <|begin_of_text|>.
// It is built as a tokenizer.json in memory and loaded with Load, so Hash
// identifies it too.
func NewByteLevel(vocabSize int) (*Tokenizer, error) {
	data, err := byteLevelJSON(vocabSize)
	if err != nil {
		return nil, err
	}
	return Load(data, nil)
}

// byteLevelJSON is the tokenizer.json of NewByteLevel(vocabSize).
func byteLevelJSON(vocabSize int) ([]byte, error) {
	minSize := 256 + len(ByteLevelSpecials)
	if vocabSize < minSize {
		return nil, fmt.Errorf("tokenizer: byte-level vocab size %d is below %d", vocabSize, minSize)
	}
	vocab := make(map[string]int, 256)
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = b
	}
	var addedTokens []addedSpec
	for id := 256; id < vocabSize; id++ {
		content := fmt.Sprintf("<|reserved_special_token_%d|>", id-minSize)
		if k := id - 256; k < len(ByteLevelSpecials) {
			content = ByteLevelSpecials[k]
		}
		addedTokens = append(addedTokens, addedSpec{ID: &id, Content: content, Special: true})
	}
	spec := map[string]any{
		"version":      "1.0",
		"added_tokens": addedTokens,
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{
			"type": "Sequence",
			"pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]string{"Regex": llama3Pattern}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
			},
		},
		"post_processor": map[string]any{
			"type": "Sequence",
			"processors": []any{
				map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
				map[string]any{"type": "TemplateProcessing", "single": []any{
					map[string]any{"SpecialToken": map[string]any{"id": ByteLevelSpecials[0], "type_id": 0}},
					map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				}},
			},
		},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
			"vocab": vocab, "merges": []string{},
		},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: byte-level spec: %w", err)
	}
	return data, nil
}
