package safetensors

import (
	"bytes"
	"testing"
)

// FuzzParseHeader feeds arbitrary JSON headers and data sizes to the header
// parser: it must never panic, and whatever it accepts must be consistent.
func FuzzParseHeader(f *testing.F) {
	seeds := []string{
		`{}`,
		`{"__metadata__":{"format":"pt"}}`,
		`{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`,
		`{"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}}`,
		`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`,
		`{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,1]}}`,
		`{"a":{"dtype":"I64","shape":[-1],"data_offsets":[0,8]}}`,
		`{"a":{"dtype":"X","shape":[1],"data_offsets":[0,1]}`,
		`[]`, `{"a":1}`, `{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"z":0}}   `,
	}
	for _, s := range seeds {
		f.Add([]byte(s), int64(16))
	}
	f.Fuzz(func(t *testing.T, hdr []byte, dataSize int64) {
		h, err := ParseHeader("fuzz", hdr, dataSize)
		if err != nil {
			if !bytes.HasPrefix([]byte(err.Error()), []byte("safetensors fuzz: ")) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		var pos int64
		for _, ti := range h.Tensors {
			if ti.Begin < 0 || ti.End > dataSize || ti.Begin > ti.End {
				t.Fatalf("accepted bad range %+v in %d bytes", ti, dataSize)
			}
			if ti.Size() > 0 {
				if ti.Begin < pos {
					t.Fatalf("accepted overlap at %+v", ti)
				}
				pos = ti.End
			}
			n := int64(ti.DType.Size())
			for _, d := range ti.Shape {
				n *= int64(d)
			}
			if n != ti.Size() {
				t.Fatalf("accepted size mismatch %+v", ti)
			}
		}
	})
}

// FuzzParse feeds whole images to Parse and checks that accepted ones
// survive a write/parse round trip.
func FuzzParse(f *testing.F) {
	f.Add(image(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(image(`{"__metadata__":{"x":"y"},"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, make([]byte, 4)))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, buf []byte) {
		file, err := Parse("fuzz", buf)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := WriteTo(&out, file.Tensors(), file.Metadata()); err != nil {
			t.Fatalf("rewrite of an accepted file failed: %v", err)
		}
		again, err := Parse("again", out.Bytes())
		if err != nil {
			t.Fatalf("reparse: %v", err)
		}
		if len(again.Tensors()) != len(file.Tensors()) {
			t.Fatalf("%d tensors became %d", len(file.Tensors()), len(again.Tensors()))
		}
		for _, a := range file.Tensors() {
			b, ok := again.Tensor(a.Name)
			if !ok || !bytes.Equal(a.Data, b.Data) || a.DType != b.DType {
				t.Fatalf("tensor %q changed", a.Name)
			}
		}
	})
}
