package tokenizer

import (
	"strings"
	"testing"
)

// benchText is about 64 KiB of mixed text.
var benchText = strings.Repeat(strings.Join(fixedCases, " "), 40)

func BenchmarkEncode(b *testing.B) {
	tok := loadLlama3(b)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tok.Encode(benchText, EncodeOptions{AllowSpecial: true})
	}
}

func BenchmarkEncodeUncached(b *testing.B) {
	tok := loadLlama3(b)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tok.model.mu.Lock()
		tok.model.cache = map[string][]int32{}
		tok.model.mu.Unlock()
		tok.Encode(benchText, EncodeOptions{AllowSpecial: true})
	}
}

func BenchmarkDecode(b *testing.B) {
	tok := loadLlama3(b)
	ids := tok.Encode(benchText, EncodeOptions{AllowSpecial: true})
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		tok.Decode(ids)
	}
}

// TestLinearTime guards against quadratic behaviour on long inputs of one
// kind (64 KiB each; quadratic work would take minutes): each must encode
// and round-trip.
func TestLinearTime(t *testing.T) {
	tok, err := NewByteLevel(261)
	if err != nil {
		t.Fatal(err)
	}
	if dir := installedDir(); dir != "" {
		tok = loadLlama3(t)
	}
	for _, s := range []string{
		strings.Repeat("a", 1<<16),
		strings.Repeat(" ", 1<<16),
		strings.Repeat("\n ", 1<<13),
		strings.Repeat("<", 1<<16),
		strings.Repeat("<|eot_id", 1<<13),
		strings.Repeat("!", 1<<16) + "\n",
		strings.Repeat("é", 1<<13),
		strings.Repeat("1", 1<<16),
	} {
		ids := tok.Encode(s, EncodeOptions{AllowSpecial: true})
		if tok.Decode(ids) != s {
			t.Errorf("round trip failed on %q...", s[:8])
		}
	}
}
