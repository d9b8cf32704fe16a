package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, dt := range []device.KVDType{device.KVF32, device.KVBF16, device.KVF16} {
		for _, pos := range []int{0, 1, 24, 37} {
			t.Run(fmt.Sprintf("%s/pos%d", dt, pos), func(t *testing.T) {
				m := testMeta(dt, 3, 24, 40)
				src := newState(m, pos, uint64(pos)+1)
				path := filepath.Join(dir, fmt.Sprintf("%s-%d.safetensors", dt, pos))
				n, err := Save(path, src)
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(path); err != nil || fi.Size() != n {
					t.Fatalf("Save returned %d bytes; file: %v %v", n, fi.Size(), err)
				}

				dst := emptyState(m)
				info, err := Restore(path, dst)
				if err != nil {
					t.Fatal(err)
				}
				sameState(t, dst, src)
				data := int64(2 * m.Layers * pos * m.RowBytes())
				if info.Bytes != n || info.DataBytes != data+4*int64(pos) || info.Tensors != 1+2*m.Layers || info.Pos != pos || info.Next != src.Next {
					t.Errorf("info %+v, file %d bytes, %d data", info, n, data)
				}
				if !info.Meta.Created.Equal(m.Created) || info.Meta.SourceDevice != "cpu" || info.Meta.SourceMode != "zerocopy" || info.Meta.FormatVersion != Version || info.Meta.MaxSeq != 40 {
					t.Errorf("meta %+v", info.Meta)
				}

				// The stream form writes the same bytes and reads them back.
				img := encodeBytes(t, src)
				file, _ := os.ReadFile(path)
				if !bytes.Equal(img, file) {
					t.Error("WriteTo and Save wrote different bytes")
				}
				r := bytes.NewReader(append(img, "next message"...))
				dst = emptyState(m)
				if _, err := ReadFrom(r, dst); err != nil {
					t.Fatal(err)
				}
				sameState(t, dst, src)
				if rest, _ := io.ReadAll(r); string(rest) != "next message" {
					t.Errorf("ReadFrom left %q unread, want the next message", rest)
				}

				// Any safetensors reader can open it.
				f, err := safetensors.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if k, ok := f.Tensor("layers.2.v"); !ok || string(k.DType) != stDType(dt) || !bytes.Equal(k.Data, src.V[2][:pos*m.RowBytes()]) {
					t.Error("layers.2.v does not read back with safetensors.Open")
				}
			})
		}
	}
}

// TestRestoreIntoTokenView checks that tokens land in the caller's buffer
// when it is big enough (a view of guest memory) and a new one otherwise.
func TestRestoreIntoTokenView(t *testing.T) {
	m := testMeta(device.KVBF16, 1, 8, 16)
	src := newState(m, 10, 1)
	img := encodeBytes(t, src)
	dst := emptyState(m)
	guest := make([]int32, m.MaxSeq)
	dst.Tokens = guest[:0]
	if _, err := ReadFrom(bytes.NewReader(img), dst); err != nil {
		t.Fatal(err)
	}
	if &dst.Tokens[0] != &guest[0] || guest[9] != src.Tokens[9] {
		t.Error("tokens were not written into the caller's buffer")
	}
	dst = emptyState(m)
	dst.Tokens = nil
	if _, err := ReadFrom(bytes.NewReader(img), dst); err != nil || len(dst.Tokens) != 10 {
		t.Fatalf("nil tokens: %v, %d tokens", err, len(dst.Tokens))
	}
}

func TestMismatch(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 16, 32)
	img := encodeBytes(t, newState(m, 24, 1))
	setMeta := func(key, v string) []byte {
		return rewrite(t, img, true, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
			md[key] = v
			return ts
		})
	}
	tests := []struct {
		field string
		img   []byte
		dst   func(*Meta)
	}{
		{KeyFingerprint, img, func(d *Meta) { d.Fingerprint = "cfg:sha256:other/synthetic:1" }},
		{KeyKVDType, img, func(d *Meta) { d.KVDType = device.KVF16 }},
		{KeyKVDType, img, func(d *Meta) { d.KVDType = device.KVF32 }},
		{KeyLayers, img, func(d *Meta) { d.Layers = 3 }},
		{KeyWidth, img, func(d *Meta) { d.Width = 8 }},
		{KeyTokenizer, img, func(d *Meta) { d.Tokenizer = "" }},
		{KeyLayout, img, func(d *Meta) { d.Layout = "[layer][kv_head][pos][head_dim]" }},
		{KeyPos, img, func(d *Meta) { d.MaxSeq = 23 }},
		{KeyFormatVersion, setMeta(KeyFormatVersion, "2"), func(*Meta) {}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			dm := m
			tt.dst(&dm)
			dst := emptyState(m) // the caches of the original geometry
			dst.Meta = dm
			err := mustRefuse(t, tt.img, dst, tt.field+":")
			var me *MismatchError
			if !errors.As(err, &me) || me.Field != tt.field {
				t.Fatalf("err = %v, want a mismatch of %s", err, tt.field)
			}
		})
	}
}

// TestBadMetadata covers metadata that is present but wrong, each error
// naming the key.
func TestBadMetadata(t *testing.T) {
	m := testMeta(device.KVF32, 2, 8, 32)
	img := encodeBytes(t, newState(m, 5, 1))
	for _, tt := range []struct {
		key, value string // value "" with del: remove the key
		del        bool
	}{
		{key: KeyFormat, value: "something-else"},
		{key: KeyFormatVersion, del: true},
		{key: KeyLayers, value: "-1"},
		{key: KeyWidth, value: "x"},
		{key: KeyPos, value: "6"}, // disagrees with the tensors' shapes
		{key: KeyNext, value: "-2"},
		{key: KeyKVDType, value: "int4"},
		{key: KeyCreated, value: "yesterday"},
		{key: KeyDataCRC, value: "12345"},
		{key: KeyFingerprint, del: true},
		{key: KeyMetaCRC, del: true},
	} {
		t.Run(tt.key, func(t *testing.T) {
			bad := rewrite(t, img, tt.key != KeyMetaCRC, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
				if tt.del {
					delete(md, tt.key)
				} else {
					md[tt.key] = tt.value
				}
				return ts
			})
			want := tt.key
			if tt.key == KeyPos {
				want = "shape" // pos 6 but tensors of 5 rows
			}
			mustRefuse(t, bad, emptyState(m), want)
		})
	}
	// Metadata edited without fixing its checksum is caught before any use.
	bad := rewrite(t, img, false, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
		md[KeySourceDevice] = "cuda"
		return ts
	})
	if _, err := ReadFrom(bytes.NewReader(bad), emptyState(m)); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), KeyMetaCRC) {
		t.Errorf("edited metadata: %v", err)
	}
}

// TestBadTensors covers headers whose tensors are not a snapshot's.
func TestBadTensors(t *testing.T) {
	m := testMeta(device.KVF16, 2, 8, 32)
	img := encodeBytes(t, newState(m, 5, 1))
	for _, tt := range []struct {
		name string
		want string
		edit func([]safetensors.Tensor) []safetensors.Tensor
	}{
		{"extra", `"extra": not part`, func(ts []safetensors.Tensor) []safetensors.Tensor {
			return append(ts, safetensors.Tensor{Name: "extra", DType: safetensors.U8, Shape: []int{1}, Data: []byte{1}})
		}},
		{"missing", `"layers.1.v": missing`, func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[:len(ts)-1] }},
		{"dtype", `"layers.0.k": dtype`, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[1].DType = safetensors.BF16
			return ts
		}},
		{"shape", `"layers.0.v": shape`, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[2].Shape = []int{8, 5}
			return ts
		}},
		{"order", `data_offsets`, func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[1], ts[2] = ts[2], ts[1]
			return ts
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := rewrite(t, img, true, func(_ map[string]string, ts []safetensors.Tensor) []safetensors.Tensor { return tt.edit(ts) })
			mustRefuse(t, bad, emptyState(m), tt.want)
		})
	}
}

// TestDestinationTooSmall checks that caches shorter than the snapshot
// needs are refused, naming the cache.
func TestDestinationTooSmall(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 8, 32)
	img := encodeBytes(t, newState(m, 20, 1))
	dst := emptyState(m)
	dst.V[1] = dst.V[1][:19*m.RowBytes()]
	_, err := ReadFrom(bytes.NewReader(img), dst)
	if err == nil || !strings.Contains(err.Error(), "layers.1.v") {
		t.Fatalf("err = %v", err)
	}
	if dst.Pos != 3 {
		t.Error("a refused snapshot touched the destination")
	}
}

// TestTruncated cuts a snapshot at every offset: each cut is an error
// (never a panic), and a destination that data reached is marked invalid.
func TestTruncated(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 8, 16)
	src := newState(m, 7, 1)
	img := encodeBytes(t, src)
	dir := t.TempDir()
	for cut := range len(img) {
		for _, form := range []string{"sized", "stream"} {
			dst := emptyState(m)
			var err error
			if form == "sized" { // what Restore does after opening the file
				_, err = restore(bytes.NewReader(img[:cut]), int64(cut), "cut", dst)
			} else {
				_, err = ReadFrom(bytes.NewReader(img[:cut]), dst)
			}
			if err == nil {
				t.Fatalf("%s cut at %d of %d: no error", form, cut, len(img))
			}
			if dst.Pos != 0 && !untouched(dst) {
				t.Fatalf("%s cut at %d: destination neither untouched nor invalid (pos %d)", form, cut, dst.Pos)
			}
		}
	}
	// A few real files: in the header, mid-tensor, short of the last byte.
	for _, cut := range []int{4, 40, len(img) - 100, len(img) - 1} {
		path := filepath.Join(dir, strconv.Itoa(cut))
		if err := os.WriteFile(path, img[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		dst := emptyState(m)
		_, err := Restore(path, dst)
		if err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), path) {
			t.Errorf("cut at %d: %v", cut, err)
		}
	}
	// A stream cut inside the data says so and invalidates the destination.
	dst := emptyState(m)
	_, err := ReadFrom(bytes.NewReader(img[:len(img)-1]), dst)
	if !errors.Is(err, io.ErrUnexpectedEOF) || dst.Pos != 0 || len(dst.Tokens) != 0 {
		t.Errorf("cut at the last byte: %v, pos %d", err, dst.Pos)
	}
}

func TestTrailingBytes(t *testing.T) {
	m := testMeta(device.KVBF16, 1, 8, 16)
	img := append(encodeBytes(t, newState(m, 2, 1)), 0)
	path := filepath.Join(t.TempDir(), "long")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(path, emptyState(m)); err == nil || !strings.Contains(err.Error(), "after the last tensor") {
		t.Errorf("trailing byte: %v", err)
	}
}

// TestFlippedDataByte flips each data byte in turn: every flip is a
// checksum error that leaves the destination invalid.
func TestFlippedDataByte(t *testing.T) {
	m := testMeta(device.KVF16, 2, 4, 8)
	img := encodeBytes(t, newState(m, 3, 1))
	for i := dataOffset(t, img); i < len(img); i++ {
		bad := bytes.Clone(img)
		bad[i] ^= 0x10
		dst := emptyState(m)
		_, err := ReadFrom(bytes.NewReader(bad), dst)
		if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), KeyDataCRC) {
			t.Fatalf("flip at %d: %v", i, err)
		}
		if dst.Pos != 0 || len(dst.Tokens) != 0 || dst.Next != NoToken {
			t.Fatalf("flip at %d: destination not invalidated (pos %d)", i, dst.Pos)
		}
	}
}

// TestFlippedHeaderByte flips bits of every header byte, length prefix
// included: each is an error, found before the destination is touched or
// (for a shifted header) by the data checksum.
func TestFlippedHeaderByte(t *testing.T) {
	m := testMeta(device.KVBF16, 2, 8, 16)
	img := encodeBytes(t, newState(m, 5, 1))
	for i := range dataOffset(t, img) {
		for _, bit := range []byte{0x01, 0x02, 0x08, 0x20, 0x40, 0x80} {
			bad := bytes.Clone(img)
			bad[i] ^= bit
			for _, form := range []string{"sized", "stream"} {
				var err error
				dst := emptyState(m)
				if form == "sized" {
					_, err = restore(bytes.NewReader(bad), int64(len(bad)), "flip", dst)
				} else {
					_, err = ReadFrom(bytes.NewReader(bad), dst)
				}
				if err == nil {
					t.Fatalf("%s: flip %#x at header byte %d (%q): no error", form, bit, i, img[i])
				}
				if dst.Pos != 0 && !untouched(dst) {
					t.Fatalf("%s: flip %#x at %d: destination neither untouched nor invalid", form, bit, i)
				}
			}
		}
	}
}

func TestRestoreMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope")
	if _, err := Restore(path, emptyState(testMeta(device.KVBF16, 1, 8, 8))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
	if _, err := Restore(t.TempDir(), emptyState(testMeta(device.KVBF16, 1, 8, 8))); err == nil {
		t.Error("restoring a directory: no error")
	}
}
