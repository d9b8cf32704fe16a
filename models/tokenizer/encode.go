package tokenizer

import (
	"strings"
	"unicode"
)

// EncodeOptions controls Encode.
type EncodeOptions struct {
	// AddSpecial adds the tokens that frame a sequence: for Llama 3 a
	// leading <|begin_of_text|>.
	AddSpecial bool
	// AllowSpecial recognizes the text of special tokens, such as
	// "<|eot_id|>", as those tokens. Without it such text is encoded as
	// ordinary characters. Added tokens that are not special are always
	// recognized, as Hugging Face tokenizers do.
	AllowSpecial bool
}

// Encode returns the token ids of text. Text that is not valid UTF-8 is
// encoded byte for byte, each invalid byte as a character of its own.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) []int {
	ids := make([]int, 0, len(text)/3+len(t.prefix)+len(t.suffix)+1)
	if opts.AddSpecial {
		ids = append(ids, t.prefix...)
	}
	rstrip := false
	for len(text) > 0 {
		start, a, ok := t.findAdded(text, opts.AllowSpecial)
		if !ok {
			start = len(text)
		}
		seg := text[:start]
		if rstrip {
			seg = strings.TrimLeftFunc(seg, unicode.IsSpace)
		}
		if ok && a.lstrip {
			seg = strings.TrimRightFunc(seg, unicode.IsSpace)
		}
		ids = t.encodeOrdinary(seg, ids)
		if !ok {
			break
		}
		ids = append(ids, a.id)
		rstrip = a.rstrip
		text = text[start+len(a.content):]
	}
	if opts.AddSpecial {
		ids = append(ids, t.suffix...)
	}
	return ids
}

// findAdded returns the leftmost added token in text, the longest one where
// several start at the same place.
func (t *Tokenizer) findAdded(text string, allowSpecial bool) (int, addedToken, bool) {
	if len(t.matchers) == 0 {
		return 0, addedToken{}, false
	}
	for i := 0; i < len(text); i++ {
		if !t.firstBytes[text[i]] {
			continue
		}
		for _, n := range t.lengths {
			if i+n > len(text) {
				continue
			}
			if a, ok := t.byContent[text[i:i+n]]; ok && (allowSpecial || !a.special) {
				return i, a, true
			}
		}
	}
	return 0, addedToken{}, false
}

// encodeOrdinary appends the ids of text that holds no added token.
func (t *Tokenizer) encodeOrdinary(text string, ids []int) []int {
	pretokenize(text, func(piece string) {
		ids = t.model.encode(piece, ids)
	})
	return ids
}
