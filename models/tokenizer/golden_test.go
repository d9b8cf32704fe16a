package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// goldenPath holds strings and their ids from the JavaScript reference
// (regenerate with go test -run TestReference -update-golden), so that a
// reviewer sees expected values and the check runs without node.
const goldenPath = "testdata/golden.json"

type goldenCase struct {
	Text string `json:"text"`
	IDs  []int  `json:"ids"`
}

func TestGolden(t *testing.T) {
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("%s: %v", goldenPath, err)
	}
	if len(cases) < 20 {
		t.Fatalf("%s has %d cases, want at least 20", goldenPath, len(cases))
	}
	tok := loadLlama3(t)
	for _, c := range cases {
		got := tok.Encode(c.Text, EncodeOptions{AllowSpecial: true})
		if !slices.Equal(got, c.IDs) {
			t.Errorf("Encode(%q):\n got %v\nwant %v", c.Text, got, c.IDs)
		}
		if dec := tok.Decode(got); dec != c.Text {
			t.Errorf("Decode(Encode(%q)) = %q", c.Text, dec)
		}
	}
}
