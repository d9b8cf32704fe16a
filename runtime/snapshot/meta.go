package snapshot

import (
	"fmt"
	"hash/crc32"
	"sort"
	"strconv"
	"time"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// Version is the snapshot format version this package writes and reads.
const Version = 1

// FormatName is the value of the "format" metadata key of every snapshot.
const FormatName = "wasmgpu-kv-snapshot"

// LayoutRowMajor is the only cache layout: per layer, rows of pos, each row
// kvHeads·headDim elements with the KV head index major.
const LayoutRowMajor = "[layer][pos][kv_head*head_dim]"

// NoToken is State.Next when no next token has been predicted.
const NoToken int32 = -1

// The __metadata__ keys. Every value is a string; numbers are decimal.
const (
	KeyFormat        = "format"         // FormatName
	KeyFormatVersion = "format_version" // Version
	KeyFingerprint   = "fingerprint"    // Meta.Fingerprint
	KeyKVDType       = "kv_dtype"       // Meta.KVDType: "f32", "bf16" or "f16"
	KeyLayers        = "layers"         // Meta.Layers
	KeyWidth         = "width"          // Meta.Width
	KeyMaxSeq        = "max_seq"        // Meta.MaxSeq of the source
	KeyLayout        = "layout"         // Meta.Layout
	KeyTokenizer     = "tokenizer"      // Meta.Tokenizer
	KeySourceDevice  = "source_device"  // Meta.SourceDevice
	KeySourceMode    = "source_mode"    // Meta.SourceMode
	KeyCreated       = "created"        // Meta.Created, RFC 3339 with nanoseconds, UTC
	KeyPos           = "pos"            // State.Pos
	KeyNext          = "next_token"     // State.Next
	KeyDataCRC       = "data_crc32c"    // CRC-32C of all tensor data in file order, 8 hex digits
	KeyMetaCRC       = "meta_crc32c"    // CRC-32C of the other metadata (see metaCRC), 8 hex digits
)

// Meta describes a snapshot's source and what a destination must match.
type Meta struct {
	// FormatVersion is the snapshot format version. Save writes Version
	// whatever it holds; Info reports the version read.
	FormatVersion int
	// Fingerprint identifies the model: its config hash and weights source,
	// e.g. "cfg:sha256:<hex>/synthetic:1". Restore requires equality.
	Fingerprint string
	// KVDType is the cache element type. Restore requires equality.
	KVDType device.KVDType
	// Layers is the number of layers, Width the elements of one cache row
	// (kvHeads·headDim). Restore requires equality.
	Layers, Width int
	// MaxSeq is the rows each cache holds. Save records it; for Restore the
	// destination's MaxSeq is its capacity, and a snapshot of more tokens is
	// refused.
	MaxSeq int
	// Vocab is the model's vocabulary size, for Restore only (Save does
	// not record it: the fingerprint names the model): a snapshot whose next
	// token or any token id is not below it is refused before a byte of the
	// destination is written, so that the engine that adopts the restored
	// state cannot refuse it afterwards. Zero skips the check.
	Vocab int
	// Layout is LayoutRowMajor; "" means LayoutRowMajor.
	Layout string
	// Tokenizer identifies the tokenizer (a hash) or is "". Restore
	// requires equality, "" matching only "".
	Tokenizer string
	// SourceDevice and SourceMode record where the state was computed
	// ("cuda", "mapped"), for provenance only.
	SourceDevice, SourceMode string
	// Created is when the snapshot was taken; Save uses the current time
	// when it is zero. Provenance only.
	Created time.Time
}

// MismatchError is a restore refused because the snapshot does not fit the
// destination. Field is the metadata key at fault (KeyFingerprint,
// KeyKVDType, KeyLayers, KeyWidth, KeyLayout, KeyTokenizer,
// KeyFormatVersion, or KeyPos for a snapshot longer than the destination).
type MismatchError struct {
	Field string
	Got   string // the snapshot's value
	Want  string // what the destination needs
}

func (e *MismatchError) Error() string {
	if e.Field == KeyPos {
		return fmt.Sprintf("%s: snapshot holds %s tokens, destination holds at most %s", e.Field, e.Got, e.Want)
	}
	return fmt.Sprintf("%s: snapshot has %q, destination wants %q", e.Field, e.Got, e.Want)
}

// castagnoli is the CRC-32C table; hash/crc32 uses the CPU's CRC32
// instruction for it on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stDType maps a KV dtype to its safetensors spelling.
func stDType(k device.KVDType) string {
	switch k {
	case device.KVF32:
		return "F32"
	case device.KVBF16:
		return "BF16"
	case device.KVF16:
		return "F16"
	}
	return ""
}

func layoutOrDefault(s string) string {
	if s == "" {
		return LayoutRowMajor
	}
	return s
}

// encodeMeta returns the metadata map of a snapshot, both checksums included.
func encodeMeta(m Meta, pos int, next int32, dataCRC uint32) map[string]string {
	created := m.Created
	if created.IsZero() {
		created = time.Now()
	}
	md := map[string]string{
		KeyFormat:        FormatName,
		KeyFormatVersion: strconv.Itoa(Version),
		KeyFingerprint:   m.Fingerprint,
		KeyKVDType:       string(m.KVDType),
		KeyLayers:        strconv.Itoa(m.Layers),
		KeyWidth:         strconv.Itoa(m.Width),
		KeyMaxSeq:        strconv.Itoa(m.MaxSeq),
		KeyLayout:        layoutOrDefault(m.Layout),
		KeyTokenizer:     m.Tokenizer,
		KeySourceDevice:  m.SourceDevice,
		KeySourceMode:    m.SourceMode,
		KeyCreated:       created.UTC().Format(time.RFC3339Nano),
		KeyPos:           strconv.Itoa(pos),
		KeyNext:          strconv.Itoa(int(next)),
		KeyDataCRC:       crcString(dataCRC),
	}
	md[KeyMetaCRC] = crcString(metaCRC(md))
	return md
}

func crcString(c uint32) string { return fmt.Sprintf("%08x", c) }

// metaCRC is the CRC-32C of every metadata entry but meta_crc32c, in key
// order, each as key NUL value NUL.
func metaCRC(md map[string]string) uint32 {
	keys := make([]string, 0, len(md))
	for k := range md {
		if k != KeyMetaCRC {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = append(append(b, k...), 0)
		b = append(append(b, md[k]...), 0)
	}
	return crc32.Checksum(b, castagnoli)
}

// header is what a snapshot's metadata says.
type header struct {
	meta    Meta
	pos     int
	next    int32
	dataCRC uint32
}

// decodeMeta checks the metadata's format, version and checksum and parses
// every field. It checks nothing against a destination.
func decodeMeta(md map[string]string) (header, error) {
	var h header
	if md == nil {
		return h, fmt.Errorf("__metadata__: missing (not a snapshot)")
	}
	get := func(k string) (string, error) {
		v, ok := md[k]
		if !ok {
			return "", fmt.Errorf("%s: missing from __metadata__", k)
		}
		return v, nil
	}
	if v, err := get(KeyFormat); err != nil {
		return h, err
	} else if v != FormatName {
		return h, fmt.Errorf("%s: %q, want %q (not a KV snapshot)", KeyFormat, v, FormatName)
	}
	v, err := get(KeyFormatVersion)
	if err != nil {
		return h, err
	}
	if v != strconv.Itoa(Version) {
		return h, &MismatchError{Field: KeyFormatVersion, Got: v, Want: strconv.Itoa(Version)}
	}
	h.meta.FormatVersion = Version
	sum, err := get(KeyMetaCRC)
	if err != nil {
		return h, err
	}
	if want := crcString(metaCRC(md)); sum != want {
		return h, fmt.Errorf("%s: metadata checksum is %s, computed %s: %w", KeyMetaCRC, sum, want, ErrChecksum)
	}
	str := func(k string, dst *string) {
		if err == nil {
			*dst, err = get(k)
		}
	}
	num := func(k string, dst *int, lo, hi int64) {
		if err != nil {
			return
		}
		var s string
		if s, err = get(k); err != nil {
			return
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil || n < lo || n > hi {
			err = fmt.Errorf("%s: %q is not an integer in [%d, %d]", k, s, lo, hi)
			return
		}
		*dst = int(n)
	}
	const maxDim = 1 << 31
	var kv, created, crc string
	var next int
	str(KeyFingerprint, &h.meta.Fingerprint)
	str(KeyKVDType, &kv)
	num(KeyLayers, &h.meta.Layers, 1, maxDim)
	num(KeyWidth, &h.meta.Width, 1, maxDim)
	num(KeyMaxSeq, &h.meta.MaxSeq, 0, maxDim)
	str(KeyLayout, &h.meta.Layout)
	str(KeyTokenizer, &h.meta.Tokenizer)
	str(KeySourceDevice, &h.meta.SourceDevice)
	str(KeySourceMode, &h.meta.SourceMode)
	str(KeyCreated, &created)
	num(KeyPos, &h.pos, 0, maxDim)
	num(KeyNext, &next, -1, 1<<31-1)
	str(KeyDataCRC, &crc)
	if err != nil {
		return h, err
	}
	if h.pos > h.meta.MaxSeq {
		return h, fmt.Errorf("%s: %d exceeds the source's %s %d", KeyPos, h.pos, KeyMaxSeq, h.meta.MaxSeq)
	}
	h.meta.KVDType = device.KVDType(kv)
	if h.meta.KVDType.Size() == 0 {
		return h, fmt.Errorf("%s: unknown KV dtype %q", KeyKVDType, kv)
	}
	h.next = int32(next)
	if h.meta.Created, err = time.Parse(time.RFC3339Nano, created); err != nil {
		return h, fmt.Errorf("%s: %w", KeyCreated, err)
	}
	c, err := strconv.ParseUint(crc, 16, 32)
	if err != nil || len(crc) != 8 {
		return h, fmt.Errorf("%s: %q is not 8 hex digits", KeyDataCRC, crc)
	}
	h.dataCRC = uint32(c)
	return h, nil
}

// checkFits refuses a snapshot that does not fit the destination described
// by want, naming the field.
func checkFits(h header, want Meta) error {
	str := []struct{ key, got, want string }{
		{KeyFingerprint, h.meta.Fingerprint, want.Fingerprint},
		{KeyKVDType, string(h.meta.KVDType), string(want.KVDType)},
		{KeyLayers, strconv.Itoa(h.meta.Layers), strconv.Itoa(want.Layers)},
		{KeyWidth, strconv.Itoa(h.meta.Width), strconv.Itoa(want.Width)},
		{KeyLayout, layoutOrDefault(h.meta.Layout), layoutOrDefault(want.Layout)},
		{KeyTokenizer, h.meta.Tokenizer, want.Tokenizer},
	}
	for _, f := range str {
		if f.got != f.want {
			return &MismatchError{Field: f.key, Got: f.got, Want: f.want}
		}
	}
	if h.pos > want.MaxSeq {
		return &MismatchError{Field: KeyPos, Got: strconv.Itoa(h.pos), Want: strconv.Itoa(want.MaxSeq)}
	}
	return nil
}
