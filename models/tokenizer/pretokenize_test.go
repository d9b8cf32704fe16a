package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestPretokenize(t *testing.T) {
	// Expected splits are those of the Llama 3 regex (checked against the
	// JavaScript reference in TestReference), except the marked cases where
	// this package follows the Rust engines.
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello, world!", []string{"Hello", ",", " world", "!"}},
		{"hello   world", []string{"hello", "  ", " world"}},
		{"trailing  ", []string{"trailing", "  "}},
		{"a \n \n b", []string{"a", " \n \n", " b"}},
		{"x\t\ty", []string{"x", "\t", "\ty"}},
		{"I'm JOHN'S 'LL 're 'r", []string{"I", "'m", " JOHN", "'S", " '", "LL", " '", "re", " '", "r"}},
		{"1234567", []string{"123", "456", "7"}},
		{"٣٤٥٦ ½", []string{"٣٤٥", "٦", " ", "½"}},
		{"...\r\n\r\nx", []string{"...\r\n\r\n", "x"}},
		{" ...", []string{" ..."}},
		{"  ...", []string{" ", " ..."}},
		{"<|eot_id|>", []string{"<|", "eot", "_id", "|>"}},
		{"e\u0301t\u00e9", []string{"e", "\u0301t\u00e9"}},
		{"\u00a0x", []string{"\u00a0x"}},
		// Rust semantics: U+0085 is \s, U+FEFF is not, 'ſ folds to 's.
		{"a\u0085\u0085b", []string{"a", "\u0085", "\u0085b"}},
		{"\ufeffx", []string{"\ufeffx"}},
		{"it'ſ", []string{"it", "'ſ"}},
		// Invalid UTF-8 bytes are characters of their own kind.
		{"a\xffb\xfe\xfd", []string{"a", "\xffb", "\xfe\xfd"}},
		{"\xff", []string{"\xff"}},
	}
	for _, tc := range tests {
		var got []string
		pretokenize(tc.in, func(p string) { got = append(got, p) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("pretokenize(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Join(got, "") != tc.in {
			t.Errorf("pretokenize(%q) pieces do not cover the input", tc.in)
		}
	}
}

func TestFoldEq(t *testing.T) {
	for _, tc := range []struct {
		r, c rune
		want bool
	}{
		{'s', 's', true}, {'S', 's', true}, {'ſ', 's', true}, {'t', 's', false},
		{'L', 'l', true}, {'E', 'e', true}, {'é', 'e', false}, {'K', 'k', true},
	} {
		if got := foldEq(tc.r, tc.c); got != tc.want {
			t.Errorf("foldEq(%q, %q) = %v", tc.r, tc.c, got)
		}
	}
}
