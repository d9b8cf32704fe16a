package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/wasmgpu/wasmgpu/internal/regular"
)

// Tokenizer encodes text to Llama 3 token ids and back. It is safe for
// concurrent use.
type Tokenizer struct {
	model bpe

	// tokens holds the raw bytes of each vocab token, indexed by id; nil for
	// ids that are not vocab tokens.
	tokens [][]byte
	// added holds the added tokens (special or not), indexed by id.
	added map[int]addedToken
	// matchers are the added tokens recognized in text, longest first.
	matchers []addedToken
	// byContent indexes matchers, lengths are their distinct lengths in
	// decreasing order and firstBytes marks the bytes they start with.
	byContent  map[string]addedToken
	lengths    []int
	firstBytes [256]bool

	prefix, suffix []int // what AddSpecial puts around the ids
	size           int   // highest id + 1
	hash           string
}

// addedToken is a token matched in the text before pre-tokenization.
type addedToken struct {
	id      int
	content string
	special bool
	lstrip  bool
	rstrip  bool
}

// Load builds a Tokenizer from the bytes of a Hugging Face tokenizer.json
// for Llama 3 and, optionally (nil to omit), of its tokenizer_config.json.
//
// With AddSpecial, Encode applies the TemplateProcessing post-processor of
// tokenizer.json if there is one; otherwise it prepends the config's
// bos_token (or <|begin_of_text|> when there is no config), as Llama 3's
// official tokenizer does.
func Load(tokenizerJSON, configJSON []byte) (*Tokenizer, error) {
	t, err := load(tokenizerJSON, configJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

// The most bytes LoadDir reads of each file: Llama 3's tokenizer.json is
// 9 MB, its tokenizer_config.json 50 kB.
const (
	maxTokenizerBytes = 256 << 20
	maxConfigBytes    = 16 << 20
)

// LoadDir loads tokenizer.json and, if present, tokenizer_config.json from
// dir. Both must be regular files (a FIFO is refused, not waited on) of
// bounded size.
func LoadDir(dir string) (*Tokenizer, error) {
	tj, err := regular.ReadFile(filepath.Join(dir, "tokenizer.json"), maxTokenizerBytes)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	cj, err := regular.ReadFile(filepath.Join(dir, "tokenizer_config.json"), maxConfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		cj = nil
	} else if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := load(tj, cj)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", dir, err) // err names the file
	}
	return t, nil
}

func load(tokenizerJSON, configJSON []byte) (*Tokenizer, error) {
	var spec fileSpec
	if err := json.Unmarshal(tokenizerJSON, &spec); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if !isNull(spec.Normalizer) {
		return nil, fmt.Errorf("tokenizer.json: normalizer is not supported (Llama 3 has none)")
	}
	if err := checkPreTokenizer(spec.PreTokenizer); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	if !isNull(spec.Decoder) {
		d, err := parseComponent(spec.Decoder, "decoder")
		if err != nil {
			return nil, fmt.Errorf("tokenizer.json: %w", err)
		}
		if d.Type != "ByteLevel" {
			return nil, fmt.Errorf("tokenizer.json: decoder: unsupported type %q (want ByteLevel)", d.Type)
		}
	}
	t := &Tokenizer{added: map[int]addedToken{}}
	if err := t.loadModel(spec.Model); err != nil {
		return nil, fmt.Errorf("tokenizer.json: model: %w", err)
	}
	if err := t.loadAdded(spec.AddedTokens); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	before, after, found, err := parsePostProcessor(spec.PostProcessor)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	// A corrupt tokenizer_config.json is refused even when its bos_token is
	// not needed: it is not the file its folder claims to hold.
	var cfg configSpec
	if configJSON != nil {
		if err := json.Unmarshal(configJSON, &cfg); err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
	}
	if !found {
		bos := "<|begin_of_text|>"
		if configJSON != nil {
			if bos, err = tokenContent(cfg.BOSToken, "bos_token"); err != nil {
				return nil, err
			}
		}
		if bos != "" {
			before = []string{bos}
		}
	}
	if t.prefix, err = t.lookupAll(before); err != nil {
		return nil, fmt.Errorf("special tokens to add: %w", err)
	}
	if t.suffix, err = t.lookupAll(after); err != nil {
		return nil, fmt.Errorf("special tokens to add: %w", err)
	}
	sum := sha256.Sum256(tokenizerJSON)
	t.hash = hex.EncodeToString(sum[:])
	return t, nil
}

func (t *Tokenizer) loadModel(m *modelSpec) error {
	switch {
	case m == nil:
		return errors.New("missing")
	case m.Type != "BPE":
		return fmt.Errorf("unsupported type %q (want BPE)", m.Type)
	case m.Dropout != nil && *m.Dropout != 0:
		return errors.New("dropout is not supported")
	case m.ByteFallback:
		return errors.New("byte_fallback is not supported")
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "",
		m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return errors.New("continuing_subword_prefix and end_of_word_suffix are not supported")
	case len(m.Vocab) == 0:
		return errors.New("vocab is missing or empty")
	}
	t.model = bpe{
		merges:       make(map[uint64]merge, len(m.Merges)),
		words:        make(map[string]int32, len(m.Vocab)),
		ignoreMerges: m.IgnoreMerges,
		cache:        map[string][]int32{},
	}
	maxID := 0
	for tok, id := range m.Vocab {
		if id < 0 || id > 1<<24 {
			return fmt.Errorf("vocab: token %q has id %d out of range [0, %d]", tok, id, 1<<24)
		}
		maxID = max(maxID, id)
	}
	t.tokens = make([][]byte, maxID+1)
	for tok, id := range m.Vocab {
		raw, ok := byteLevelDecode(tok)
		if !ok || len(raw) == 0 {
			return fmt.Errorf("vocab: token %q (id %d) is not byte-level encoded", tok, id)
		}
		if t.tokens[id] != nil {
			return fmt.Errorf("vocab: id %d is used by %q and %q", id, byteLevelEncode(t.tokens[id]), tok)
		}
		t.tokens[id] = raw
		t.model.words[string(raw)] = int32(id)
	}
	for b := 0; b < 256; b++ {
		id, ok := t.model.words[string([]byte{byte(b)})]
		if !ok {
			return fmt.Errorf("vocab: no token for byte 0x%02x (%q)", b, string(byteToRune[b]))
		}
		t.model.byteID[b] = id
	}
	for rank, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return fmt.Errorf("merges[%d]: %w", rank, err)
		}
		ida, ok1 := m.Vocab[a]
		idb, ok2 := m.Vocab[b]
		idab, ok3 := m.Vocab[a+b]
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("merges[%d]: %q + %q: a token or their concatenation is not in the vocab", rank, a, b)
		}
		t.model.merges[pairKey(int32(ida), int32(idb))] = merge{rank: int32(rank), id: int32(idab)}
	}
	t.size = maxID + 1
	return nil
}

func (t *Tokenizer) loadAdded(specs []addedSpec) error {
	for i, a := range specs {
		switch {
		case a.ID == nil:
			return fmt.Errorf("added_tokens[%d]: missing id", i)
		case *a.ID < 0 || *a.ID > 1<<24:
			return fmt.Errorf("added_tokens[%d]: id %d out of range", i, *a.ID)
		case a.Content == "":
			return fmt.Errorf("added_tokens[%d]: empty content", i)
		case a.SingleWord:
			return fmt.Errorf("added_tokens[%d] %q: single_word is not supported", i, a.Content)
		}
		id := *a.ID
		if id < len(t.tokens) && t.tokens[id] != nil && byteLevelEncode(t.tokens[id]) != a.Content {
			return fmt.Errorf("added_tokens[%d] %q: id %d is already vocab token %q", i, a.Content, id, byteLevelEncode(t.tokens[id]))
		}
		if old, dup := t.added[id]; dup {
			return fmt.Errorf("added_tokens[%d] %q: id %d is already added token %q", i, a.Content, id, old.content)
		}
		at := addedToken{id: id, content: a.Content, special: a.Special, lstrip: a.LStrip, rstrip: a.RStrip}
		t.added[id] = at
		t.matchers = append(t.matchers, at)
		t.size = max(t.size, id+1)
	}
	// Longest first, so that the first match at a position is the longest.
	sort.SliceStable(t.matchers, func(i, j int) bool {
		return len(t.matchers[i].content) > len(t.matchers[j].content)
	})
	t.byContent = make(map[string]addedToken, len(t.matchers))
	for _, a := range t.matchers {
		if old, dup := t.byContent[a.content]; dup {
			return fmt.Errorf("added tokens %d and %d have the same content %q", old.id, a.id, a.content)
		}
		t.byContent[a.content] = a
		t.firstBytes[a.content[0]] = true
		if n := len(a.content); len(t.lengths) == 0 || t.lengths[len(t.lengths)-1] != n {
			t.lengths = append(t.lengths, n)
		}
	}
	return nil
}

func (t *Tokenizer) lookupAll(contents []string) ([]int, error) {
	var ids []int
	for _, c := range contents {
		id, ok := t.TokenID(c)
		if !ok {
			return nil, fmt.Errorf("%q is not a token", c)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// TokenID returns the id of a token given its text: an added token's content
// (such as "<|eot_id|>") or the raw text of a vocab token.
func (t *Tokenizer) TokenID(token string) (int, bool) {
	if a, ok := t.byContent[token]; ok {
		return a.id, true
	}
	id, ok := t.model.words[token]
	return int(id), ok
}

// IsSpecial reports whether id is an added token marked special, such as
// <|begin_of_text|> or <|eot_id|>.
func (t *Tokenizer) IsSpecial(id int) bool {
	a, ok := t.added[id]
	return ok && a.special
}

// VocabSize returns the highest token id plus one (128256 for Llama 3).
func (t *Tokenizer) VocabSize() int { return t.size }

// Hash returns the hex SHA-256 of the tokenizer.json bytes it was loaded
// from, to record which tokenizer produced a sequence of ids.
func (t *Tokenizer) Hash() string { return t.hash }
