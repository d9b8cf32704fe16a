package tokenizer

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// tinySpec returns a tokenizer.json in the Llama 3 layout with the 256 byte
// tokens (id = byte), a few merges and two special tokens; mutate edits the
// decoded JSON before it is encoded again.
func tinySpec(t *testing.T, mutate func(m map[string]any)) []byte {
	t.Helper()
	vocab := map[string]any{}
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = b
	}
	// Merges, in rank order: "h e", "l l", "he ll", "Ġ w"; "ll o" as a pair.
	for tok, id := range map[string]int{"he": 300, "ll": 301, "hell": 302, "Ġw": 303, "llo": 304} {
		vocab[tok] = id
	}
	spec := map[string]any{
		"normalizer": nil,
		"added_tokens": []any{
			map[string]any{"id": 400, "content": "<|begin_of_text|>", "special": true},
			map[string]any{"id": 401, "content": "<|eot_id|>", "special": true},
			map[string]any{"id": 402, "content": "<x>", "special": false},
		},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": llama3Pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "ByteLevel"},
		"decoder":        map[string]any{"type": "ByteLevel"},
		"model": map[string]any{
			"type": "BPE", "ignore_merges": false, "vocab": vocab,
			"merges": []any{"h e", "l l", "he ll", []any{"Ġ", "w"}, []any{"ll", "o"}},
		},
	}
	if mutate != nil {
		mutate(spec)
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestEncodeTiny(t *testing.T) {
	tok, err := Load(tinySpec(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in   string
		opts EncodeOptions
		want []int
	}{
		{"", EncodeOptions{}, []int{}},
		{"", EncodeOptions{AddSpecial: true}, []int{400}},
		// "hello": h e l l o -> he l l o -> he ll o -> hell o ("ll o" ranks
		// below "he ll", so it never applies).
		{"hello", EncodeOptions{}, []int{302, 'o'}},
		{"llo", EncodeOptions{}, []int{304}},
		{" w", EncodeOptions{}, []int{303}},
		{"hello world", EncodeOptions{AddSpecial: true}, []int{400, 302, 'o', 303, 'o', 'r', 'l', 'd'}},
		{"a<|eot_id|>b", EncodeOptions{AllowSpecial: true}, []int{'a', 401, 'b'}},
		{"a<|eot_id|>", EncodeOptions{}, []int{'a', '<', '|', 'e', 'o', 't', '_', 'i', 'd', '|', '>'}},
		{"<x><x>", EncodeOptions{}, []int{402, 402}}, // not special: always matched
	}
	for _, tc := range tests {
		got := tok.Encode(tc.in, tc.opts)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q, %+v) = %v, want %v", tc.in, tc.opts, got, tc.want)
		}
		dec := tok.Decode(got)
		if tc.opts.AddSpecial {
			dec = strings.TrimPrefix(dec, "<|begin_of_text|>")
		}
		if dec != tc.in {
			t.Errorf("Decode(Encode(%q)) = %q", tc.in, dec)
		}
	}
	if id, ok := tok.TokenID("<|eot_id|>"); !ok || id != 401 || !tok.IsSpecial(id) {
		t.Errorf("TokenID(<|eot_id|>) = %d, %v", id, ok)
	}
	if id, ok := tok.TokenID("hell"); !ok || id != 302 || tok.IsSpecial(id) {
		t.Errorf("TokenID(hell) = %d, %v", id, ok)
	}
	if tok.VocabSize() != 403 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
	if len(tok.Hash()) != 64 {
		t.Errorf("Hash = %q", tok.Hash())
	}
}

func TestIgnoreMerges(t *testing.T) {
	// With ignore_merges, a piece that is a whole vocab token is that token
	// even where the merges would not build it: "llo" is in the vocab, but
	// "hello" is not, so only the former is affected.
	tok, err := Load(tinySpec(t, func(m map[string]any) {
		model := m["model"].(map[string]any)
		model["ignore_merges"] = true
		model["vocab"].(map[string]any)["hellx"] = 305
		model["merges"] = []any{"h e", "l l"}
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("hellx", EncodeOptions{}); !slices.Equal(got, []int{305}) {
		t.Errorf("Encode(hellx) = %v, want [305]", got)
	}
	if got := tok.Encode("hello", EncodeOptions{}); !slices.Equal(got, []int{300, 301, 'o'}) {
		t.Errorf("Encode(hello) = %v", got)
	}
}

func TestBOSFromConfig(t *testing.T) {
	spec := tinySpec(t, nil)
	for _, tc := range []struct {
		config string
		want   []int
	}{
		{"", []int{400, 'a'}},
		{`{"bos_token": "<|eot_id|>"}`, []int{401, 'a'}},
		{`{"bos_token": {"content": "<|eot_id|>", "__type": "AddedToken"}}`, []int{401, 'a'}},
		{`{"bos_token": null}`, []int{'a'}},
	} {
		var cfg []byte
		if tc.config != "" {
			cfg = []byte(tc.config)
		}
		tok, err := Load(spec, cfg)
		if err != nil {
			t.Fatalf("config %s: %v", tc.config, err)
		}
		if got := tok.Encode("a", EncodeOptions{AddSpecial: true}); !slices.Equal(got, tc.want) {
			t.Errorf("config %s: Encode = %v, want %v", tc.config, got, tc.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	set := func(path string, v any) func(map[string]any) {
		return func(m map[string]any) {
			keys := strings.Split(path, ".")
			for _, k := range keys[:len(keys)-1] {
				m = m[k].(map[string]any)
			}
			m[keys[len(keys)-1]] = v
		}
	}
	tests := []struct {
		name   string
		data   []byte
		config []byte
		want   string
	}{
		{"not json", []byte("{"), nil, "tokenizer.json"},
		{"not object", []byte("[1]"), nil, "tokenizer.json"},
		{"no model", tinySpec(t, set("model", nil)), nil, "model: missing"},
		{"wordpiece", tinySpec(t, set("model.type", "WordPiece")), nil, `unsupported type "WordPiece"`},
		{"empty vocab", tinySpec(t, set("model.vocab", map[string]any{})), nil, "vocab is missing"},
		{"byte fallback", tinySpec(t, set("model.byte_fallback", true)), nil, "byte_fallback"},
		{"bad merge string", tinySpec(t, set("model.merges", []any{"he"})), nil, `merges[0]: merge "he"`},
		{"bad merge pair", tinySpec(t, set("model.merges", []any{[]any{"h", "e", "x"}})), nil, "merges[0]"},
		{"bad merge type", tinySpec(t, set("model.merges", []any{7})), nil, "merges[0]"},
		{"merge not in vocab", tinySpec(t, set("model.merges", []any{"h e", "x y"})), nil, `merges[1]: "x" + "y"`},
		{"negative id", tinySpec(t, set("model.vocab", map[string]any{"a": -1})), nil, "out of range"},
		{"missing byte", tinySpec(t, set("model.vocab", map[string]any{"a": 0})), nil, "no token for byte 0x00"},
		{"not byte level", tinySpec(t, set("model.vocab", map[string]any{"a b": 0})), nil, "not byte-level"},
		{"normalizer", tinySpec(t, set("normalizer", map[string]any{"type": "NFC"})), nil, "normalizer"},
		{"no pre_tokenizer", tinySpec(t, set("pre_tokenizer", nil)), nil, "pre_tokenizer: missing"},
		{"other regex", tinySpec(t, func(m map[string]any) {
			m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": `\w+`}
		}), nil, "unsupported regex"},
		{"decoder", tinySpec(t, set("decoder", map[string]any{"type": "WordPiece"})), nil, "decoder"},
		{"post_processor", tinySpec(t, set("post_processor", map[string]any{"type": "BertProcessing"})), nil, "post_processor"},
		{"added without id", tinySpec(t, set("added_tokens", []any{map[string]any{"content": "x"}})), nil, "added_tokens[0]: missing id"},
		{"added empty", tinySpec(t, set("added_tokens", []any{map[string]any{"id": 500, "content": ""}})), nil, "empty content"},
		{"added clash", tinySpec(t, set("added_tokens", []any{map[string]any{"id": 97, "content": "<b>"}})), nil, "already vocab token"},
		{"added twice", tinySpec(t, set("added_tokens", []any{map[string]any{"id": 500, "content": "<a>"}, map[string]any{"id": 500, "content": "<b>"}})), nil, "already added token"},
		{"single word", tinySpec(t, set("added_tokens", []any{map[string]any{"id": 500, "content": "<a>", "single_word": true}})), nil, "single_word"},
		{"bad config", tinySpec(t, nil), []byte("{"), "tokenizer_config.json"},
		{"bad bos", tinySpec(t, nil), []byte(`{"bos_token": 3}`), "bos_token"},
		{"unknown bos", tinySpec(t, nil), []byte(`{"bos_token": "<s>"}`), `"<s>" is not a token`},
	}
	for _, tc := range tests {
		tok, err := Load(tc.data, tc.config)
		if err == nil {
			t.Errorf("%s: Load succeeded (%v)", tc.name, tok != nil)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "tokenizer: ") {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadDirMissing(t *testing.T) {
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("LoadDir(empty) error = %v", err)
	}
}

func TestDecode(t *testing.T) {
	tok, err := NewByteLevel(300)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ids  []int
		want string
	}{
		{nil, ""},
		{[]int{'h', 'i'}, "hi"},
		{[]int{0xE2, 0x82, 0xAC}, "€"},
		{[]int{0xE2, 0x82}, "\ufffd"}, // truncated sequence: one U+FFFD
		{[]int{0xE2, 0x82, 260, 0xAC}, "\ufffd<|eot_id|>\ufffd"},
		{[]int{0xFF, 'a', 0xC0, 0x80}, "\ufffda\ufffd\ufffd"}, // never-valid bytes
		{[]int{0xED, 0xA0, 0x80}, "\ufffd\ufffd\ufffd"},       // surrogate
		{[]int{0xF0, 0x9F, 0x98}, "\ufffd"},
		{[]int{0xF4, 0x90, 0x80, 0x80}, "\ufffd\ufffd\ufffd\ufffd"}, // above U+10FFFF
		{[]int{-1, 'a', 300, 1 << 40}, "a"},                         // not tokens: skipped
		{[]int{256, 'x', 299}, "<|begin_of_text|>x<|reserved_special_token_38|>"},
	}
	for _, tc := range tests {
		if got := tok.Decode(tc.ids); got != tc.want {
			t.Errorf("Decode(%v) = %q, want %q", tc.ids, got, tc.want)
		}
	}
	if b, ok := tok.TokenBytes(0xE2); !ok || string(b) != "\xe2" {
		t.Errorf("TokenBytes(0xE2) = %q, %v", b, ok)
	}
	if b, ok := tok.TokenBytes(260); !ok || string(b) != "<|eot_id|>" {
		t.Errorf("TokenBytes(260) = %q, %v", b, ok)
	}
	if _, ok := tok.TokenBytes(300); ok {
		t.Error("TokenBytes(300) ok")
	}
}

func TestNewByteLevel(t *testing.T) {
	if _, err := NewByteLevel(260); err == nil {
		t.Error("NewByteLevel(260) succeeded")
	}
	tok, err := NewByteLevel(261)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 261 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
	for i, s := range ByteLevelSpecials {
		if id, ok := tok.TokenID(s); !ok || id != 256+i || !tok.IsSpecial(id) {
			t.Errorf("TokenID(%s) = %d, %v", s, id, ok)
		}
	}
	got := tok.EncodeChat([]Message{{Role: "user", Content: "hi"}}, true)
	want := []int{256, 258, 'u', 's', 'e', 'r', 259, '\n', '\n', 'h', 'i', 260, 258}
	want = append(want, []int{'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', 259, '\n', '\n'}...)
	if !slices.Equal(got, want) {
		t.Errorf("EncodeChat = %v, want %v", got, want)
	}
	if got := tok.Encode("hé", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int{256, 'h', 0xC3, 0xA9}) {
		t.Errorf("Encode(hé) = %v", got)
	}
	again, _ := NewByteLevel(261)
	if again.Hash() != tok.Hash() {
		t.Error("NewByteLevel is not deterministic")
	}
}

func TestChatPrompt(t *testing.T) {
	got := ChatPrompt([]Message{
		{Role: "system", Content: " You are terse.\n"},
		{Role: "user", Content: "\x1cHi\u00a0"},
	}, true)
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>" +
		"<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>" +
		"<|start_header_id|>assistant<|end_header_id|>\n\n"
	if got != want {
		t.Errorf("ChatPrompt =\n%q\nwant\n%q", got, want)
	}
	if got := ChatPrompt([]Message{{Role: "user", Content: "x"}}, false); got != "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>" {
		t.Errorf("ChatPrompt without generation prompt = %q", got)
	}
	if got := ChatPrompt(nil, true); got != "<|start_header_id|>assistant<|end_header_id|>\n\n" {
		t.Errorf("ChatPrompt(nil) = %q", got)
	}
}

func TestLlama3(t *testing.T) {
	tok := loadLlama3(t)
	if tok.VocabSize() != 128256 {
		t.Errorf("VocabSize = %d, want 128256", tok.VocabSize())
	}
	for name, want := range map[string]int{"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001, "<|start_header_id|>": 128006, "<|end_header_id|>": 128007, "<|eot_id|>": 128009} {
		if id, ok := tok.TokenID(name); !ok || id != want {
			t.Errorf("TokenID(%s) = %d, %v, want %d", name, id, ok, want)
		}
	}
	if got := tok.Encode("Hello, world!", EncodeOptions{AddSpecial: true}); !slices.Equal(got, []int{128000, 9906, 11, 1917, 0}) {
		t.Errorf("Encode with BOS = %v", got)
	}
	// Without AllowSpecial, special-token text is ordinary text.
	if got := tok.Encode("<|eot_id|>", EncodeOptions{}); slices.Contains(got, 128009) || tok.Decode(got) != "<|eot_id|>" {
		t.Errorf("Encode(<|eot_id|>) without AllowSpecial = %v", got)
	}
	if len(tok.Hash()) != 64 {
		t.Errorf("Hash = %q", tok.Hash())
	}
	chat := tok.EncodeChat([]Message{{Role: "user", Content: "Hi"}}, true)
	want := []int{128000, 128006, 882, 128007, 271, 13347, 128009, 128006, 78191, 128007, 271}
	if !slices.Equal(chat, want) {
		t.Errorf("EncodeChat = %v, want %v", chat, want)
	}
}
