package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"testing"
)

// jsonHeader is the header as encoding/json writes it (the writer's first
// implementation): encodeHeader must produce exactly these bytes.
func jsonHeader(t testing.TB, tensors []Tensor, metadata map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		b, _ := json.Marshal(k)
		buf.Write(b)
		buf.WriteByte(':')
	}
	if len(metadata) > 0 {
		key(metadataKey)
		b, err := json.Marshal(metadata) // encoding/json sorts map keys
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
	}
	var off int64
	for _, x := range tensors {
		shape := make([]int64, len(x.Shape))
		for i, d := range x.Shape {
			shape[i] = int64(d)
		}
		b, err := json.Marshal(rawTensor{DType: string(x.DType), Shape: shape, DataOffsets: []int64{off, off + int64(len(x.Data))}})
		if err != nil {
			t.Fatal(err)
		}
		key(x.Name)
		buf.Write(b)
		off += int64(len(x.Data))
	}
	buf.WriteByte('}')
	for buf.Len()%headerAlign != 0 {
		buf.WriteByte(' ')
	}
	return append(binary.LittleEndian.AppendUint64(nil, uint64(buf.Len())), buf.Bytes()...)
}

// TestEncodeHeaderMatchesEncodingJSON: the reflection-free header encoder
// writes what encoding/json writes, for plain names and for every kind of
// string encoding/json escapes.
func TestEncodeHeaderMatchesEncodingJSON(t *testing.T) {
	for _, md := range []map[string]string{
		nil,
		{"format": "pt"},
		{"fingerprint": "cfg:sha256:0123/synthetic:1", "layout": "[layer][pos][kv_head*head_dim]", "created": "2026-11-25T12:00:00.000000123Z"},
		{"quote": `a "b" \c`, "html": "<a href='x'>&</a>", "ctl": "\x00\x01\b\f\n\r\t\x7f", "utf8": "ünïcode ✓ \u2028\u2029", "bad": "\xff\xfe", "": "empty key"},
	} {
		tensors := sampleTensors(t)
		tensors = append(tensors, Tensor{Name: "layers.0.k<&>\"", DType: BF16, Shape: []int{2, 1}, Data: make([]byte, 4)})
		got, err := EncodeHeader(tensors, md)
		if err != nil {
			t.Fatal(err)
		}
		if want := jsonHeader(t, tensors, md); !bytes.Equal(got, want) {
			t.Errorf("metadata %q:\n got %q\nwant %q", md, got, want)
		}
	}
}

// FuzzAppendJSONString: every string encodes as encoding/json encodes it.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "layers.0.k", "BF16", `"`, `\`, "<>&", "\x00", "\x7f", "é", "\xff", "\u2028", "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("%q: got %q, want %q", s, got[1:], want)
		}
	})
}
