package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// llama3Pattern is the only Split regex this package implements; see
// pretokenize.go for the scanner that reproduces it.
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// fileSpec is the subset of a Hugging Face tokenizer.json this package reads.
type fileSpec struct {
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *modelSpec      `json:"model"`
	AddedTokens   []addedSpec     `json:"added_tokens"`
}

type modelSpec struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
}

type addedSpec struct {
	ID         *int   `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// component is the common shape of normalizers, pre-tokenizers,
// post-processors and decoders: a type tag plus type-specific fields.
type component struct {
	Type          string            `json:"type"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	Pattern       *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior       string `json:"behavior"`
	Invert         bool   `json:"invert"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
	Single         []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct {
			ID string `json:"id"`
		} `json:"Sequence"`
	} `json:"single"`
}

// configSpec is the subset of tokenizer_config.json this package reads.
type configSpec struct {
	BOSToken json.RawMessage `json:"bos_token"`
	EOSToken json.RawMessage `json:"eos_token"`
}

// isNull reports whether raw is absent or the JSON literal null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func parseComponent(raw json.RawMessage, what string) (*component, error) {
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if c.Type == "" {
		return nil, fmt.Errorf("%s: missing \"type\"", what)
	}
	return &c, nil
}

// checkPreTokenizer accepts exactly the Llama 3 pre-tokenizer: a Split on
// llama3Pattern (Isolated, not inverted) followed by ByteLevel without its
// own regex and without a prefix space.
func checkPreTokenizer(raw json.RawMessage) error {
	if isNull(raw) {
		return fmt.Errorf("pre_tokenizer: missing (want the Llama 3 Split + ByteLevel sequence)")
	}
	seq, err := parseComponent(raw, "pre_tokenizer")
	if err != nil {
		return err
	}
	if seq.Type != "Sequence" || len(seq.Pretokenizers) != 2 {
		return fmt.Errorf("pre_tokenizer: unsupported %q with %d parts (want Sequence of Split and ByteLevel)", seq.Type, len(seq.Pretokenizers))
	}
	split, err := parseComponent(seq.Pretokenizers[0], "pre_tokenizer[0]")
	if err != nil {
		return err
	}
	if split.Type != "Split" {
		return fmt.Errorf("pre_tokenizer[0]: unsupported type %q (want Split)", split.Type)
	}
	if split.Pattern == nil || split.Pattern.Regex == nil {
		return fmt.Errorf("pre_tokenizer[0]: missing pattern.Regex")
	}
	if *split.Pattern.Regex != llama3Pattern {
		return fmt.Errorf("pre_tokenizer[0]: unsupported regex %q (only the Llama 3 pattern is implemented)", *split.Pattern.Regex)
	}
	if !strings.EqualFold(split.Behavior, "Isolated") || split.Invert {
		return fmt.Errorf("pre_tokenizer[0]: unsupported behavior %q invert=%v (want Isolated, false)", split.Behavior, split.Invert)
	}
	bl, err := parseComponent(seq.Pretokenizers[1], "pre_tokenizer[1]")
	if err != nil {
		return err
	}
	if bl.Type != "ByteLevel" {
		return fmt.Errorf("pre_tokenizer[1]: unsupported type %q (want ByteLevel)", bl.Type)
	}
	if bl.AddPrefixSpace || bl.UseRegex == nil || *bl.UseRegex {
		return fmt.Errorf("pre_tokenizer[1]: ByteLevel must have add_prefix_space=false and use_regex=false")
	}
	return nil
}

// parsePostProcessor returns the special-token contents that a
// TemplateProcessing post-processor puts before and after the sequence.
// found is false when the post-processor has no template (for example a
// plain ByteLevel one).
func parsePostProcessor(raw json.RawMessage) (before, after []string, found bool, err error) {
	if isNull(raw) {
		return nil, nil, false, nil
	}
	c, err := parseComponent(raw, "post_processor")
	if err != nil {
		return nil, nil, false, err
	}
	switch c.Type {
	case "ByteLevel":
		return nil, nil, false, nil
	case "Sequence":
		for i, p := range c.Processors {
			b, a, ok, err := parsePostProcessor(p)
			if err != nil {
				return nil, nil, false, fmt.Errorf("post_processor.processors[%d]: %w", i, err)
			}
			if ok {
				if found {
					return nil, nil, false, fmt.Errorf("post_processor: more than one TemplateProcessing")
				}
				before, after, found = b, a, true
			}
		}
		return before, after, found, nil
	case "TemplateProcessing":
		seen := false
		for _, piece := range c.Single {
			switch {
			case piece.SpecialToken != nil && !seen:
				before = append(before, piece.SpecialToken.ID)
			case piece.SpecialToken != nil:
				after = append(after, piece.SpecialToken.ID)
			case piece.Sequence != nil && piece.Sequence.ID == "A" && !seen:
				seen = true
			default:
				return nil, nil, false, fmt.Errorf("post_processor: unsupported TemplateProcessing single template")
			}
		}
		if !seen {
			return nil, nil, false, fmt.Errorf("post_processor: TemplateProcessing single template lacks $A")
		}
		return before, after, true, nil
	default:
		return nil, nil, false, fmt.Errorf("post_processor: unsupported type %q", c.Type)
	}
}

// parseMerge accepts a merge as "a b" or ["a", "b"].
func parseMerge(raw json.RawMessage) (a, b string, err error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return "", "", fmt.Errorf("merge %q is not two space-separated tokens", s)
		}
		return a, b, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil {
		return "", "", fmt.Errorf("merge %s is neither a string nor a pair of strings", truncate(string(raw), 40))
	}
	if len(pair) != 2 || pair[0] == "" || pair[1] == "" {
		return "", "", fmt.Errorf("merge %s is not a pair of non-empty strings", truncate(string(raw), 40))
	}
	return pair[0], pair[1], nil
}

// tokenContent reads a tokenizer_config token field, which is either a
// string or an AddedToken object with "content".
func tokenContent(raw json.RawMessage, what string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", fmt.Errorf("tokenizer_config %s: want a string or an object with \"content\"", what)
	}
	return *obj.Content, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
