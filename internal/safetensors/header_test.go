package safetensors

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// image builds a safetensors image from a JSON header and data bytes.
func image(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestParseMalformed(t *testing.T) {
	data16 := make([]byte, 16)
	tests := []struct {
		name string
		buf  []byte
		want string // substring of the error
	}{
		{"empty file", nil, `safetensors f.st: header length: file is 0 bytes, shorter than the 8-byte header length (truncated?)`},
		{"short prefix", []byte{1, 0, 0}, "shorter than the 8-byte header length"},
		{"header length zero", image("", nil), "header length: 0 is too small"},
		{"header length huge", binary.LittleEndian.AppendUint64(nil, 1<<40), "header length: 1099511627776 exceeds the 104857600-byte limit"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 100), "header length: 100 runs past the end of the 8-byte file (truncated?)"},
		{"not JSON", image("{x", nil), "header: invalid JSON"},
		{"not an object", image("[1,2]", nil), "header: JSON is not an object"},
		{"trailing garbage", image(`{} x`, nil), "unexpected bytes after the JSON object"},
		{"invalid UTF-8", image("{\"\xff\":1}", nil), "header: not valid UTF-8"},
		{"duplicate tensor", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, data16[:2]), `tensor "a": duplicate key in header`},
		{"entry not an object", image(`{"a":7}`, nil), `tensor "a": invalid entry`},
		{"unknown field", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, data16[:1]), `tensor "a": invalid entry: json: unknown field "x"`},
		{"missing dtype", image(`{"a":{"shape":[1],"data_offsets":[0,1]}}`, data16[:1]), `tensor "a": dtype: missing`},
		{"unknown dtype", image(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, data16[:1]), `tensor "a": dtype: unsupported: unknown dtype "Q4"`},
		{"missing shape", image(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, data16[:1]), `tensor "a": shape: missing`},
		{"missing offsets", image(`{"a":{"dtype":"U8","shape":[1]}}`, data16[:1]), `tensor "a": data_offsets: missing`},
		{"three offsets", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, data16[:2]), `tensor "a": data_offsets: want [begin, end], got 3 values`},
		{"negative offset", image(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[-1,-1]}}`, nil), `tensor "a": data_offsets: [-1, -1] is negative`},
		{"begin after end", image(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[2,1]}}`, data16[:2]), `tensor "a": data_offsets: [2, 1]: begin after end`},
		{"offsets past data (truncated)", image(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data16[:10]), `safetensors f.st: tensor "w": data_offsets: [0, 16] runs past the end of the 10-byte data section (truncated?)`},
		{"negative dim", image(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, data16[:1]), `tensor "a": shape: [-1] has negative dimension -1`},
		{"fractional dim", image(`{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}`, data16[:1]), `tensor "a": invalid entry`},
		{"shape overflow", image(`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,1]}}`, data16[:1]), `tensor "a": shape: [4294967296 4294967296] overflows`},
		{"size mismatch", image(`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, data16), `tensor "a": shape: F32 [2 2] needs 16 bytes but data_offsets [0, 12] hold 12`},
		{"overlap", image(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data16), `tensor "b": data_offsets: [4, 12] overlaps tensor "a", which ends at 8`},
		{"metadata not strings", image(`{"__metadata__":{"k":1}}`, nil), `__metadata__: want an object of string values`},
		{"empty tensor name", image(`{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)), `empty tensor name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.st", tt.buf)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors f.st: ") {
				t.Errorf("error %q does not name the file", err)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not *Error", err)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	hdr := `{"__metadata__":{"format":"pt"},` +
		`"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]},` +
		`"a":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]},` +
		`"e":{"dtype":"I64","shape":[0,3],"data_offsets":[4,4]},` +
		`"s":{"dtype":"I32","shape":[],"data_offsets":[20,24]}}   `
	data := make([]byte, 28)
	f, err := Parse("ok.st", image(hdr, data))
	if err != nil {
		t.Fatal(err)
	}
	h := f.Header()
	var names []string
	for _, ti := range h.Tensors {
		names = append(names, ti.Name)
	}
	if got := strings.Join(names, ","); got != "a,e,b,s" {
		t.Errorf("data order %s, want a,e,b,s", got)
	}
	if h.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", h.Metadata)
	}
	wantGaps := []Gap{{4, 12, "a"}, {24, 28, "s"}}
	if len(h.Gaps) != 2 || h.Gaps[0] != wantGaps[0] || h.Gaps[1] != wantGaps[1] {
		t.Errorf("gaps %v, want %v", h.Gaps, wantGaps)
	}
	if s, ok := f.Tensor("s"); !ok || s.NumElements() != 1 || len(s.Data) != 4 {
		t.Errorf("scalar tensor %+v", s)
	}
	if _, ok := f.Tensor("zz"); ok {
		t.Error("found a tensor that does not exist")
	}
	if h.DataOffset() != 8+int64(len(hdr)) {
		t.Errorf("DataOffset %d", h.DataOffset())
	}
}

func TestParseDType(t *testing.T) {
	for _, d := range []DType{BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64} {
		if got, err := ParseDType(string(d)); err != nil || got != d || d.Size() == 0 {
			t.Errorf("ParseDType(%s) = %v, %v", d, got, err)
		}
	}
	if _, err := ParseDType("bf16"); err == nil {
		t.Error("lower-case dtype accepted")
	}
}
