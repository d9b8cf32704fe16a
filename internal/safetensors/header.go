package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math/bits"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header a reader accepts. Real headers are
// kilobytes (a 1B-parameter Llama: about 20 KiB); the bound keeps a corrupt or
// hostile length from making a reader allocate gigabytes.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding free-form string metadata.
const metadataKey = "__metadata__"

// TensorInfo describes one tensor as the header states it. Begin and End are
// byte offsets relative to the start of the data section.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	Begin int64
	End   int64
}

// Size returns the tensor's size in bytes.
func (t TensorInfo) Size() int64 { return t.End - t.Begin }

// Gap is a range of the data section that no tensor covers. Gaps are legal
// but unusual (writers lay tensors out back to back), so they are reported
// rather than rejected.
type Gap struct {
	Begin, End int64
	After      string // the tensor the gap follows, "" if at the start
}

// Header is a parsed, validated safetensors header.
type Header struct {
	// Metadata is the optional __metadata__ map (nil when absent).
	Metadata map[string]string
	// Tensors lists the tensors in data order (by Begin, then End, then name).
	Tensors []TensorInfo
	// HeaderSize is the length in bytes of the JSON header (with padding).
	HeaderSize int64
	// DataSize is the length in bytes of the data section.
	DataSize int64
	// Gaps lists data ranges no tensor covers, trailing bytes included.
	Gaps []Gap
}

// DataOffset returns the file offset where the data section starts.
func (h *Header) DataOffset() int64 { return 8 + h.HeaderSize }

// splitPrefix validates the 8-byte length prefix against the total size and
// returns the JSON header length.
func splitPrefix(file string, prefix []byte, total int64) (int64, error) {
	if total < 8 {
		return 0, errorf(file, "", "header length", "file is %d bytes, shorter than the 8-byte header length (truncated?)", total)
	}
	n := binary.LittleEndian.Uint64(prefix)
	switch {
	case n < 2:
		return 0, errorf(file, "", "header length", "%d is too small for a JSON object", n)
	case n > MaxHeaderSize:
		return 0, errorf(file, "", "header length", "%d exceeds the %d-byte limit (corrupt file?)", n, MaxHeaderSize)
	case int64(n) > total-8:
		return 0, errorf(file, "", "header length", "%d runs past the end of the %d-byte file (truncated?)", n, total)
	}
	return int64(n), nil
}

// rawTensor is a tensor entry as it appears in the JSON header.
type rawTensor struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ParseHeader parses and validates the JSON header of a safetensors file
// whose data section is dataSize bytes long. file names the source in errors.
func ParseHeader(file string, header []byte, dataSize int64) (*Header, error) {
	if dataSize < 0 {
		return nil, errorf(file, "", "", "negative data size %d", dataSize)
	}
	if !utf8.Valid(header) {
		return nil, errorf(file, "", "header", "not valid UTF-8")
	}
	h := &Header{HeaderSize: int64(len(header)), DataSize: dataSize}
	dec := json.NewDecoder(bytes.NewReader(header))
	tok, err := dec.Token()
	if err != nil {
		return nil, &Error{File: file, Field: "header", Msg: "invalid JSON", Err: err}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errorf(file, "", "header", "JSON is not an object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &Error{File: file, Field: "header", Msg: "invalid JSON", Err: err}
		}
		name, _ := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, errorf(file, name, "", "duplicate key in header")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, &Error{File: file, Tensor: name, Field: "header", Msg: "invalid JSON", Err: err}
		}
		if name == metadataKey {
			if err := parseMetadata(file, raw, h); err != nil {
				return nil, err
			}
			continue
		}
		if name == "" {
			// The writer refuses it too: a nameless tensor cannot be looked up.
			return nil, errorf(file, name, "", "empty tensor name")
		}
		t, err := parseTensor(file, name, raw, dataSize)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, &Error{File: file, Field: "header", Msg: "invalid JSON", Err: err}
	}
	// Only padding may follow the object.
	rest := header[dec.InputOffset():]
	if len(bytes.TrimRight(rest, " \t\r\n\x00")) != 0 {
		return nil, errorf(file, "", "header", "unexpected bytes after the JSON object")
	}
	if err := checkLayout(file, h); err != nil {
		return nil, err
	}
	return h, nil
}

func parseMetadata(file string, raw json.RawMessage, h *Header) error {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	var md map[string]string
	if err := json.Unmarshal(raw, &md); err != nil {
		return &Error{File: file, Field: metadataKey, Msg: "want an object of string values", Err: err}
	}
	h.Metadata = md
	return nil
}

func parseTensor(file, name string, raw json.RawMessage, dataSize int64) (TensorInfo, error) {
	var rt rawTensor
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rt); err != nil {
		return TensorInfo{}, &Error{File: file, Tensor: name, Msg: "invalid entry", Err: err}
	}
	if rt.DType == "" {
		return TensorInfo{}, errorf(file, name, "dtype", "missing")
	}
	dt, err := ParseDType(rt.DType)
	if err != nil {
		return TensorInfo{}, &Error{File: file, Tensor: name, Field: "dtype", Msg: "unsupported", Err: err}
	}
	if rt.Shape == nil {
		return TensorInfo{}, errorf(file, name, "shape", "missing")
	}
	if rt.DataOffsets == nil {
		return TensorInfo{}, errorf(file, name, "data_offsets", "missing")
	}
	if len(rt.DataOffsets) != 2 {
		return TensorInfo{}, errorf(file, name, "data_offsets", "want [begin, end], got %d values", len(rt.DataOffsets))
	}
	begin, end := rt.DataOffsets[0], rt.DataOffsets[1]
	switch {
	case begin < 0 || end < 0:
		return TensorInfo{}, errorf(file, name, "data_offsets", "[%d, %d] is negative", begin, end)
	case begin > end:
		return TensorInfo{}, errorf(file, name, "data_offsets", "[%d, %d]: begin after end", begin, end)
	case end > dataSize:
		return TensorInfo{}, errorf(file, name, "data_offsets", "[%d, %d] runs past the end of the %d-byte data section (truncated?)", begin, end, dataSize)
	}
	shape := make([]int, len(rt.Shape))
	n := uint64(dt.Size())
	for i, d := range rt.Shape {
		if d < 0 {
			return TensorInfo{}, errorf(file, name, "shape", "%v has negative dimension %d", rt.Shape, d)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > 1<<62 {
			return TensorInfo{}, errorf(file, name, "shape", "%v overflows", rt.Shape)
		}
		n = lo
		shape[i] = int(d)
	}
	if n != uint64(end-begin) {
		return TensorInfo{}, errorf(file, name, "shape", "%s %v needs %d bytes but data_offsets [%d, %d] hold %d", dt, rt.Shape, n, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Begin: begin, End: end}, nil
}

// checkLayout sorts the tensors by offset, rejects overlaps and records gaps.
func checkLayout(file string, h *Header) error {
	ts := h.Tensors
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Begin != ts[j].Begin {
			return ts[i].Begin < ts[j].Begin
		}
		if ts[i].End != ts[j].End {
			return ts[i].End < ts[j].End
		}
		return ts[i].Name < ts[j].Name
	})
	var pos int64
	prev := ""
	for _, t := range ts {
		if t.Begin == t.End {
			continue // an empty tensor occupies no bytes
		}
		if t.Begin < pos {
			return errorf(file, t.Name, "data_offsets", "[%d, %d] overlaps tensor %q, which ends at %d", t.Begin, t.End, prev, pos)
		}
		if t.Begin > pos {
			h.Gaps = append(h.Gaps, Gap{Begin: pos, End: t.Begin, After: prev})
		}
		pos, prev = t.End, t.Name
	}
	if pos < h.DataSize {
		h.Gaps = append(h.Gaps, Gap{Begin: pos, End: h.DataSize, After: prev})
	}
	return nil
}

// ReadHeader reads the length prefix and JSON header of a safetensors stream
// of size bytes from r, leaving r positioned at the start of the data
// section. file names the source in errors.
func ReadHeader(r io.Reader, size int64, file string) (*Header, error) {
	var prefix [8]byte
	if size < 8 {
		return nil, errorf(file, "", "header length", "size %d is shorter than the 8-byte header length", size)
	}
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, &Error{File: file, Field: "header length", Msg: "read", Err: err}
	}
	n, err := splitPrefix(file, prefix[:], size)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, &Error{File: file, Field: "header", Msg: "read", Err: err}
	}
	return ParseHeader(file, buf, size-8-n)
}
