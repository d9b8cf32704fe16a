package tokenizer_test

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/models/tokenizer"
)

// The real tokenizer loads with tokenizer.LoadDir(dir) on a dir holding
// tokenizer.json; this example uses the byte-level one, which needs no files.
func Example() {
	tok, err := tokenizer.NewByteLevel(261)
	if err != nil {
		panic(err)
	}
	ids := tok.Encode("Hi!", tokenizer.EncodeOptions{AddSpecial: true})
	fmt.Println(ids)
	fmt.Printf("%q\n", tok.Decode(ids))
	prompt := tokenizer.ChatPrompt([]tokenizer.Message{
		{Role: "system", Content: "Be brief."},
		{Role: "user", Content: " Hello "},
	}, true)
	fmt.Printf("%q\n", prompt)
	// Output:
	// [256 72 105 33]
	// "<|begin_of_text|>Hi!"
	// "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
}
