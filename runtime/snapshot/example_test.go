package snapshot_test

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// newCaches returns per-layer K and V caches of maxSeq rows; in the engine
// they are views of the guest's linear memory.
func newCaches(m snapshot.Meta) (k, v [][]byte) {
	for range m.Layers {
		k = append(k, make([]byte, m.MaxSeq*m.RowBytes()))
		v = append(v, make([]byte, m.MaxSeq*m.RowBytes()))
	}
	return k, v
}

func Example() {
	dir, err := os.MkdirTemp("", "snapshot-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	meta := snapshot.Meta{
		Fingerprint: "cfg:sha256:1b2c/synthetic:1",
		KVDType:     device.KVBF16,
		Layers:      2, Width: 16, MaxSeq: 64,
		SourceDevice: "cpu", SourceMode: "zerocopy",
	}

	// The source guest has processed three tokens.
	src := snapshot.State{Meta: meta, Pos: 3, Next: 42, Tokens: []int32{128000, 9906, 1917}}
	src.K, src.V = newCaches(meta)
	src.K[1][5] = 7 // some cache content
	path := filepath.Join(dir, "conversation.safetensors")
	n, err := snapshot.Save(path, &src)
	if err != nil {
		log.Fatal(err)
	}

	// A fresh guest of the same model restores it.
	dst := snapshot.State{Meta: meta, Tokens: make([]int32, 0, meta.MaxSeq)}
	dst.K, dst.V = newCaches(meta)
	info, err := snapshot.Restore(path, &dst)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("saved", n == info.Bytes, "tensors", info.Tensors, "data bytes", info.DataBytes)
	fmt.Println("pos", dst.Pos, "tokens", dst.Tokens, "next", dst.Next, "k[1][5]", dst.K[1][5])

	// A guest of another model is refused, naming the field.
	other := snapshot.State{Meta: meta}
	other.Meta.Fingerprint = "cfg:sha256:9f9f/synthetic:1"
	other.K, other.V = newCaches(meta)
	_, err = snapshot.Restore(path, &other)
	var mismatch *snapshot.MismatchError
	fmt.Println(errors.As(err, &mismatch), mismatch.Field)
	// Output:
	// saved true tensors 5 data bytes 396
	// pos 3 tokens [128000 9906 1917] next 42 k[1][5] 7
	// true fingerprint
}
