package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func sampleTensors(t *testing.T) []Tensor {
	t.Helper()
	f32, err := FromFloat32(F32, []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	bf, err := FromFloat32(BF16, []float32{0.5, -1, 3})
	if err != nil {
		t.Fatal(err)
	}
	return []Tensor{
		{Name: "w", DType: F32, Shape: []int{2, 3}, Data: f32},
		{Name: "b", DType: BF16, Shape: []int{3}, Data: bf},
		{Name: "ids", DType: I64, Shape: []int{1}, Data: binary.LittleEndian.AppendUint64(nil, 42)},
		{Name: "empty", DType: U8, Shape: []int{0}, Data: nil},
		{Name: "bytes", DType: U8, Shape: []int{5}, Data: []byte("hello")},
	}
}

func TestWriteOpenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	in := sampleTensors(t)
	md := map[string]string{"format": "pt", "note": `quote " and ünïcode`}
	if err := Write(path, in, md); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-aligned", 8+n)
	}
	if size, _ := EncodedSize(in, md); size != int64(len(raw)) {
		t.Errorf("EncodedSize %d, file is %d bytes", size, len(raw))
	}

	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Path() != path || f.Metadata()["note"] != md["note"] || len(f.Header().Gaps) != 0 {
		t.Errorf("path %q metadata %v gaps %v", f.Path(), f.Metadata(), f.Header().Gaps)
	}
	for _, want := range in {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Fatalf("tensor %q missing", want.Name)
		}
		if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q: got %+v, want %+v", want.Name, got, want)
		}
	}
	w, _ := f.Tensor("w")
	v, err := w.Float32s()
	if err != nil || v[5] != 6 {
		t.Errorf("Float32s = %v, %v", v, err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenTruncated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := Write(path, sampleTensors(t), nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	cut := filepath.Join(dir, "cut.safetensors")
	if err := os.WriteFile(cut, raw[:len(raw)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(cut)
	want := `safetensors ` + cut + `: tensor "bytes": data_offsets: [`
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "(truncated?)") {
		t.Fatalf("error %v, want it to start %q and say truncated", err, want)
	}
	if _, err := Open(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("open of a missing file: %v", err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("open of a directory: %v", err)
	}
}

func TestWriteRejects(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"size mismatch", []Tensor{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}, `tensor "a": F32 [2] needs 8 bytes, data has 4`},
		{"unknown dtype", []Tensor{{Name: "a", DType: "Q4", Shape: []int{1}, Data: make([]byte, 1)}}, `tensor "a": unknown dtype "Q4"`},
		{"duplicate", []Tensor{{Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}, {Name: "a", DType: U8, Shape: []int{1}, Data: []byte{1}}}, `tensor "a": duplicate name`},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{1}, Data: []byte{1}}}, `reserved or empty`},
		{"negative dim", []Tensor{{Name: "a", DType: U8, Shape: []int{-1}}}, `negative dimension`},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.safetensors")
			err := Write(path, tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming %s and containing %q", err, path, tt.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files left behind: %v", ents)
			}
		})
	}
}

func TestStreamRoundTrip(t *testing.T) {
	in := sampleTensors(t)
	var buf bytes.Buffer
	n, err := WriteTo(&buf, in, map[string]string{"k": "v"})
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v (buffer %d)", n, err, buf.Len())
	}
	size := int64(buf.Len())
	buf.WriteString("NEXT MESSAGE") // the reader must not consume it
	sr, err := NewReader(&buf, size, "peer")
	if err != nil {
		t.Fatal(err)
	}
	if sr.Header().Metadata["k"] != "v" {
		t.Errorf("metadata %v", sr.Header().Metadata)
	}
	got := map[string][]byte{}
	for ti := range each(t, sr) {
		if ti.Name == "ids" {
			continue // left unread: Next must skip it
		}
		dst := make([]byte, ti.Size())
		if err := sr.ReadTensor(dst); err != nil {
			t.Fatal(err)
		}
		got[ti.Name] = dst
	}
	for _, want := range in {
		if want.Name == "ids" {
			continue
		}
		if !bytes.Equal(got[want.Name], want.Data) {
			t.Errorf("tensor %q: %v, want %v", want.Name, got[want.Name], want.Data)
		}
	}
	if rest := buf.String(); rest != "NEXT MESSAGE" {
		t.Errorf("reader consumed past its message: %q left", rest)
	}
	if _, err := sr.Next(); err != io.EOF {
		t.Errorf("Next after the end: %v", err)
	}
}

func TestStreamTruncated(t *testing.T) {
	var buf bytes.Buffer
	if _, err := WriteTo(&buf, sampleTensors(t), nil); err != nil {
		t.Fatal(err)
	}
	full := buf.Len()
	r := bytes.NewReader(buf.Bytes()[:full-2]) // size claims more than arrives
	sr, err := NewReader(r, int64(full), "peer")
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for {
		ti, err := sr.Next()
		if err != nil {
			last = err
			break
		}
		if err := sr.ReadTensor(make([]byte, ti.Size())); err != nil {
			last = err
			break
		}
	}
	if last == io.EOF || !errors.Is(last, io.ErrUnexpectedEOF) || !strings.Contains(last.Error(), `safetensors peer: tensor "bytes"`) {
		t.Fatalf("error %v, want unexpected EOF naming tensor \"bytes\"", last)
	}
	// Wrong destination size.
	buf.Reset()
	WriteTo(&buf, sampleTensors(t), nil)
	sr, _ = NewReader(&buf, int64(buf.Len()), "peer")
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	if err := sr.ReadTensor(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "destination is 1 bytes") {
		t.Errorf("short destination: %v", err)
	}
	// Header cut short.
	if _, err := NewReader(bytes.NewReader([]byte{1, 2, 3}), 100, "peer"); err == nil || !strings.Contains(err.Error(), "safetensors peer: header length") {
		t.Errorf("cut header: %v", err)
	}
}

func TestStreamSkipsGaps(t *testing.T) {
	hdr := `{"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]},"z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},"b":{"dtype":"U8","shape":[1],"data_offsets":[5,6]}}`
	img := image(hdr, []byte("xABxyCtrailer"))
	r := bytes.NewReader(append(img, "MORE"...))
	sr, err := NewReader(r, int64(len(img)), "gappy")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for ti := range each(t, sr) {
		b, err := io.ReadAll(sr)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ti.Name+"="+string(b))
	}
	if s := strings.Join(got, ","); s != "a=AB,z=,b=C" {
		t.Errorf("read %s, want a=AB,z=,b=C", s)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "MORE" {
		t.Errorf("left %q after the message, want MORE", rest)
	}
	if g := sr.Header().Gaps; len(g) != 3 {
		t.Errorf("gaps %v", g)
	}
}

// each yields the tensors sr.Next returns until io.EOF; another error fails t.
func each(t *testing.T, sr *Reader) iter.Seq[TensorInfo] {
	return func(yield func(TensorInfo) bool) {
		for {
			ti, err := sr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !yield(ti) {
				return
			}
		}
	}
}
