package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
)

// This file generates the strings the reference test compares on. It is
// deterministic: the same strings on every run.

// fixedCases are hand-picked strings, each covering a corner of the
// pre-tokenizer, BPE or special-token handling.
var fixedCases = []string{
	"",
	" ",
	"  ",
	"\n",
	"\r\n",
	"\t",
	"Hello, world!",
	"Hello world  ",
	"hello   world",
	" leading and trailing ",
	"a\n\nb",
	"a \n \n b",
	"a\r\n\r\nb\r\n",
	"line one\nline two\n",
	"tabs\tand\t\ttabs\t",
	"x  \t  y",
	"trailing spaces   ",
	"   ",
	" \n ",
	"I'm sure you'RE right, it's JOHN'S and they'LL say I'D've",
	"'s 'S 't 'T 're 'Re 'rE 'RE 've 'VE 'm 'M 'll 'LL 'Ll 'd 'D",
	"''s '' 's'' don't DON'T y'all rock'n'roll",
	"'r 'v 'l 'x '",
	"1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890",
	"3.14159 -42 +7 1,000,000 2024-06-01 0x1F",
	"٠١٢٣٤٥٦٧٨٩ ０１２３ ²³¹ ½¾ Ⅻ ⅷ",
	"!!! ??? ... --- ,,, ;;; ::: (((",
	"...\n\n!?\r\n",
	" .hidden ,comma",
	"func main() {\n\tfmt.Println(\"hi\")\n}\n",
	"for (int i = 0; i < n; i++) { a[i] += b[i] * 2; }",
	"def f(x):\n    return x ** 2  # square\n",
	"<div class=\"a\">&nbsp;</div>",
	"SELECT * FROM t WHERE id = 42;",
	"https://example.com/path?q=1&r=two#frag",
	"Zürich naïve café résumé façade",
	"Ελληνικά κείμενο",
	"Русский текст, ПРИВЕТ!",
	"עברית ערבית العربية",
	"हिन्दी भाषा",
	"ภาษาไทย",
	"中文文本，测试。日本語のテキスト",
	"한국어 텍스트",
	"emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
	"e\u0301 a\u0300\u0301\u0302 Z\u0335\u0336",
	"\u00a0nbsp\u00a0\u3000ideographic\u2028sep",
	"<|begin_of_text|>",
	"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
	"text<|eot_id|>more text <|end_of_text|> end",
	"<|reserved_special_token_0|><|reserved_special_token_250|>",
	"<|not_a_special|> <| eot_id |> <|eot_id",
	"<<|eot_id|>>",
	"\x00\x01\x1f\x7f",
	"\ufffd replacement",
	strings.Repeat("a", 300),
	strings.Repeat("ab ", 100),
	strings.Repeat("9", 31),
	strings.Repeat(" ", 17) + "x",
	strings.Repeat("\n", 5) + "x" + strings.Repeat("\t", 3),
}

// fragments are the pieces random strings are made of.
var fragments = []string{
	" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", "\v", "\f", " \n", "\u00a0", "\u3000",
	"'s", "'S", "'t", "'re", "'RE", "'ve", "'Ve", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "'",
	"the", "The", "THE", "quick", "brown", "fox", "don", "isn", "naïve", "straße",
	".", ",", "!", "?", "...", "--", "();", "{}", "[]", "\"", "@#$%", "=>", "->", "::", "/*", "*/",
	"<|eot_id|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|", "|>",
	"😀", "👍🏽", "🇯🇵", "👩‍💻", "\u0301", "\u0308", "\u200d", "\u200b",
	"αβγ", "Жж", "مرحبا", "שלום", "नमस्ते", "สวัสดี", "你好", "こんにちは", "カタカナ", "안녕",
	"٣", "²", "½", "Ⅷ",
}

// generatedCases returns n random strings.
func generatedCases(n int) []string {
	rng := rand.New(rand.NewPCG(2024, 3))
	out := make([]string, 0, n)
	for len(out) < n {
		var b strings.Builder
		parts := 1 + rng.IntN(8)
		for range parts {
			switch rng.IntN(5) {
			case 0:
				digits := 1 + rng.IntN(10)
				for range digits {
					b.WriteByte(byte('0' + rng.IntN(10)))
				}
			case 1:
				b.WriteString(randomRunes(rng, 1+rng.IntN(6)))
			default:
				b.WriteString(fragments[rng.IntN(len(fragments))])
			}
		}
		out = append(out, b.String())
	}
	return out
}

// blocks are ranges of code points random runes come from: many scripts,
// symbols, emoji, combining marks and spaces.
var blocks = [][2]rune{
	{0x20, 0x7e}, {0xa0, 0x17e}, {0x180, 0x24f}, {0x300, 0x36f}, {0x370, 0x3ff}, {0x400, 0x4ff},
	{0x530, 0x58f}, {0x590, 0x5ff}, {0x600, 0x6ff}, {0x900, 0x97f}, {0x980, 0x9ff}, {0xe00, 0xe7f},
	{0x10a0, 0x10ff}, {0x1100, 0x11ff}, {0x1e00, 0x1eff}, {0x2000, 0x206f}, {0x2070, 0x209f},
	{0x20a0, 0x20cf}, {0x2150, 0x218f}, {0x2190, 0x22ff}, {0x2460, 0x24ff}, {0x2500, 0x27bf},
	{0x3000, 0x303f}, {0x3040, 0x30ff}, {0x4e00, 0x9fff}, {0xac00, 0xd7a3}, {0xff00, 0xffef},
	{0x1d400, 0x1d7ff}, {0x1f300, 0x1faff}, {0x10000, 0x1007f}, {0x1f1e6, 0x1f1ff},
}

// randomRunes returns n random characters from blocks, skipping those where
// this package deliberately differs from the JavaScript reference (see the
// package doc) and those Go's Unicode 15 tables do not know.
func randomRunes(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() == 0 || n > 0 {
		blk := blocks[rng.IntN(len(blocks))]
		r := blk[0] + rng.Int32N(blk[1]-blk[0]+1)
		if r == 0x17f || r == 0x85 || r == 0xfeff || !assigned(r) {
			continue
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}

func assigned(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co)
}

// referenceCases returns every string the reference test checks.
func referenceCases() []string {
	return append(append([]string{}, fixedCases...), generatedCases(400)...)
}

// randomIDSequences returns id sequences for checking Decode, including
// lone bytes that form ill-formed UTF-8.
func randomIDSequences(tok *Tokenizer, n int) [][]int {
	rng := rand.New(rand.NewPCG(7, 11))
	var seqs [][]int
	for range n {
		var ids []int
		for range 1 + rng.IntN(12) {
			switch rng.IntN(4) {
			case 0: // a single byte, often a piece of a UTF-8 sequence
				ids = append(ids, int(tok.model.byteID[0x80+rng.IntN(0x80)]))
			case 1:
				ids = append(ids, 128000+rng.IntN(256))
			default:
				ids = append(ids, rng.IntN(128000))
			}
		}
		seqs = append(seqs, ids)
	}
	return seqs
}

// chatCases are conversations for comparing ChatPrompt with the template.
var chatCases = [][]Message{
	{{Role: "user", Content: "Hello"}},
	{{Role: "system", Content: "You are helpful."}, {Role: "user", Content: "  What is 2+2?\n"}},
	{{Role: "system", Content: "\n\tsys\u00a0\u3000"}, {Role: "user", Content: "hi"}, {Role: "assistant", Content: " 4 "}, {Role: "user", Content: "thanks\r\n"}},
	{{Role: "user", Content: ""}},
	{{Role: "tool", Content: "{\"x\": 1}"}, {Role: "ipython", Content: " a b "}},
}

func describe(s string) string { return fmt.Sprintf("%q", s) }
