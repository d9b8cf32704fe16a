package tokenizer

import (
	"testing"
	"unicode/utf8"
)

// FuzzEncode checks that Encode never panics and that Decode inverts it on
// valid UTF-8, with and without special tokens recognized. It uses the real
// Llama 3 tokenizer when installed, else a NewByteLevel one. Run it with
// go test -fuzz=FuzzEncode ./models/tokenizer.
func FuzzEncode(f *testing.F) {
	for _, s := range fixedCases {
		f.Add(s)
	}
	for _, s := range []string{"\xff\xfe", "a\xe2\x82", "'ſ\u0085\ufeff", "\r\r\n \n\t", "<|eot_id|<|eot_id|>>"} {
		f.Add(s)
	}
	var tok *Tokenizer
	if installedDir() != "" {
		tok = loadLlama3(f)
	} else {
		var err error
		if tok, err = NewByteLevel(512); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		plain := tok.Encode(s, EncodeOptions{})
		special := tok.Encode(s, EncodeOptions{AllowSpecial: true, AddSpecial: true})
		if !utf8.ValidString(s) {
			return
		}
		if got := tok.Decode(plain); got != s {
			t.Errorf("Decode(Encode(%q)) = %q (ids %v)", s, got, plain)
		}
		bos := tok.Decode(tok.prefix)
		if got := tok.Decode(special); got != bos+s {
			t.Errorf("Decode(Encode(%q, special)) = %q (ids %v)", s, got, special)
		}
		for _, id := range plain {
			if tok.IsSpecial(id) {
				t.Errorf("Encode(%q) without AllowSpecial produced special id %d", s, id)
			}
		}
	})
}
