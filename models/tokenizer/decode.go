package tokenizer

// Decode returns the text of ids. Added tokens decode to their content;
// runs of vocab tokens decode to their bytes, with each ill-formed UTF-8
// sequence replaced by U+FFFD, as Hugging Face's ByteLevel decoder does.
// Ids that are not tokens are skipped. Unlike Hugging Face's decode with
// clean_up_tokenization_spaces, it never alters spaces, so that
// Decode(Encode(s)) == s for valid UTF-8.
func (t *Tokenizer) Decode(ids []int) string {
	var out, pending []byte
	for _, id := range ids {
		if a, ok := t.added[id]; ok {
			out = appendLossyUTF8(out, pending)
			pending = pending[:0]
			out = append(out, a.content...)
			continue
		}
		if b, ok := t.TokenBytes(id); ok {
			pending = append(pending, b...)
		}
	}
	return string(appendLossyUTF8(out, pending))
}

// TokenBytes returns the raw bytes of a vocab token, which may be part of a
// UTF-8 sequence, or the content of an added token. Use it to stream
// output one token at a time. ok is false for an id that is not a token.
// The returned slice must not be modified.
func (t *Tokenizer) TokenBytes(id int) (b []byte, ok bool) {
	if a, ok := t.added[id]; ok {
		return []byte(a.content), true
	}
	if id < 0 || id >= len(t.tokens) || t.tokens[id] == nil {
		return nil, false
	}
	return t.tokens[id], true
}
