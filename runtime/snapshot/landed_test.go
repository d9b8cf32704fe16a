package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// landedRows records what State.Landed reports: per cache (layer, K or V)
// which bytes landed, and whether they held the source's bytes when they did.
type landedRows struct {
	dst, src *State
	got      map[string]int // bytes landed per cache
	wrong    []string
}

func (l *landedRows) landed(b []byte) {
	for i := range l.dst.K {
		for _, c := range []struct {
			name     string
			dst, src []byte
		}{{kName(i), l.dst.K[i], l.src.K[i]}, {vName(i), l.dst.V[i], l.src.V[i]}} {
			off := int(uintptr(unsafe.Pointer(&b[0])) - uintptr(unsafe.Pointer(&c.dst[0])))
			if off < 0 || off >= len(c.dst) {
				continue
			}
			l.got[c.name] += len(b)
			if !bytes.Equal(b, c.src[off:off+len(b)]) {
				l.wrong = append(l.wrong, fmt.Sprintf("%s [%d, +%d) landed before its bytes", c.name, off, len(b)))
			}
			return
		}
	}
	l.wrong = append(l.wrong, fmt.Sprintf("%d bytes landed outside every cache", len(b)))
}

// TestLanded: every restore path reports each cache's live rows as landed,
// exactly once and already in place, and nothing else.
func TestLanded(t *testing.T) {
	m := testMeta(device.KVBF16, 3, 512, 4096)
	for _, pos := range []int{1, 24, 600, 4096} { // 600 and 4096 rows: several units, several workers
		src := newState(m, pos, uint64(pos))
		path := filepath.Join(t.TempDir(), "s.safetensors")
		if _, err := Save(path, src); err != nil {
			t.Fatal(err)
		}
		img, _ := os.ReadFile(path)
		for _, how := range []string{"Restore", "ReadFrom"} {
			t.Run(fmt.Sprintf("pos%d/%s", pos, how), func(t *testing.T) {
				dst := emptyState(m)
				l := &landedRows{dst: dst, src: src, got: map[string]int{}}
				dst.Landed = l.landed
				var err error
				if how == "Restore" {
					_, err = Restore(path, dst)
				} else {
					_, err = ReadFrom(bytes.NewReader(img), dst)
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(l.wrong) > 0 {
					t.Fatal(l.wrong)
				}
				for i := range m.Layers {
					for _, name := range []string{kName(i), vName(i)} {
						if l.got[name] != pos*m.RowBytes() {
							t.Errorf("%s: %d bytes landed, want %d", name, l.got[name], pos*m.RowBytes())
						}
					}
				}
			})
		}
	}
}

// TestHeaderProbe: a file restore reads its header whether the first read
// holds the header and the token ids, the header only, or part of it.
func TestHeaderProbe(t *testing.T) {
	m := testMeta(device.KVF16, 2, 4, 40)
	src := newState(m, 37, 1)
	path := filepath.Join(t.TempDir(), "s.safetensors")
	if _, err := Save(path, src); err != nil {
		t.Fatal(err)
	}
	img, _ := os.ReadFile(path)
	hdr := 8 + int64(binary.LittleEndian.Uint64(img))
	defer func(p int64) { headProbe = p }(headProbe)
	for _, probe := range []int64{8, 9, hdr - 1, hdr, hdr + 4, hdr + 4*37, int64(len(img)), 64 << 10} {
		headProbe = probe
		dst := emptyState(m)
		if _, err := Restore(path, dst); err != nil {
			t.Fatalf("probe %d: %v", probe, err)
		}
		sameState(t, dst, src)
	}
}

// FuzzLeadingMetadata: the in-place reader of the metadata object never
// disagrees with encoding/json's.
func FuzzLeadingMetadata(f *testing.F) {
	img := encodeBytes(f, newState(testMeta(device.KVF16, 2, 4, 8), 3, 1))
	hdr := img[8 : 8+binary.LittleEndian.Uint64(img)]
	f.Add(hdr)
	for _, s := range []string{`{"__metadata__":{}}`, `{"__metadata__":{"a":"b","a":"c"}}`, `{"__metadata__":{"a":"\u00e9"}}`,
		`{"__metadata__":{"a":"b" }}`, `{"__metadata__":{"a":1}}`, `{"__metadata__":{"a":"b"`, `{"x":1}`, `{"__metadata__":{"é":"ü"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := leadingMetadata(raw)
		want, werr := jsonMetadata(raw)
		if (err == nil) != (werr == nil) {
			t.Fatalf("leadingMetadata error %v, encoding/json's %v", err, werr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: got %q, want %q", raw, got, want)
		}
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Fatalf("%q: got %q, want %q", raw, got, want)
			}
		}
	})
}

// TestReadFile: ReadFile reads a file's bytes and their CRC-32C, and refuses
// a buffer of another size.
func TestReadFile(t *testing.T) {
	data := make([]byte, 3<<20+5) // several units, two workers
	for i := range data {
		data[i] = byte(i * 31)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(data))
	crc, err := ReadFile(path, buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, data) || crc != crc32.Checksum(data, castagnoli) {
		t.Fatal("ReadFile read other bytes or another checksum")
	}
	if _, err := ReadFile(path, buf[1:]); err == nil {
		t.Error("a buffer of another size was accepted")
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing"), buf); err == nil {
		t.Error("a missing file was read")
	}
}
