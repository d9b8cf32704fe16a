package snapshot

import (
	"bytes"
	"testing"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// FuzzRestore feeds arbitrary bytes to both read paths (sized, as Restore
// reads a file, and streaming): no input may panic, a failed restore must
// leave the destination untouched or invalid, and a successful one a
// consistent state.
func FuzzRestore(f *testing.F) {
	m := testMeta(device.KVF16, 2, 4, 8)
	img := encodeBytes(f, newState(m, 3, 1))
	f.Add(img)
	f.Add(encodeBytes(f, newState(m, 0, 2)))
	f.Add(encodeBytes(f, newState(m, 8, 3)))
	f.Add(img[:len(img)/2])
	f.Add(img[:9])
	f.Add([]byte{})
	for _, i := range []int{0, 8, 30, len(img) - 1} {
		bad := bytes.Clone(img)
		bad[i] ^= 0x04
		f.Add(bad)
	}
	f.Add(rewrite(f, img, true, func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor {
		md[KeyPos] = "9"
		return ts
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, sized := range []bool{true, false} {
			dst := emptyState(m)
			var info Info
			var err error
			if sized {
				info, err = restore(bytes.NewReader(data), int64(len(data)), "fuzz", dst)
			} else {
				info, err = ReadFrom(bytes.NewReader(data), dst)
			}
			if err != nil {
				if dst.Pos != 0 && !untouched(dst) {
					t.Fatalf("failed restore (%v) left pos %d and a touched destination", err, dst.Pos)
				}
				continue
			}
			if dst.Pos != info.Pos || dst.Pos > m.MaxSeq || len(dst.Tokens) != dst.Pos || info.Bytes > int64(len(data)) {
				t.Fatalf("inconsistent success: pos %d, %d tokens, info %+v", dst.Pos, len(dst.Tokens), info)
			}
			// What was restored saves back to the bytes it came from.
			dst.Meta = info.Meta
			var buf bytes.Buffer
			if _, err := WriteTo(&buf, dst); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), data[:info.Bytes]) {
				t.Fatal("restored state does not save back to the same snapshot")
			}
		}
	})
}
