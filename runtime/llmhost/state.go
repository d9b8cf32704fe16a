package llmhost

import (
	"fmt"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/runtime/llm"
	"github.com/wasmgpu/wasmgpu/runtime/snapshot"
)

// StateView reads a session's state region (Session.State) through its
// header (llm.ParseStateHeader, which holds a guest's header to the region)
// and returns a snapshot.State whose token ids and K and V caches alias the
// region: what a snapshot saves from and a restore writes into. Its Meta is
// meta with the header's geometry (KV dtype, layers, width, rows); its Pos
// and Next are the header's.
func StateView(region []byte, meta snapshot.Meta) (*snapshot.State, error) {
	h, err := llm.ParseStateHeader(region)
	if err != nil {
		return nil, err
	}
	l := h.Layout
	meta.KVDType, meta.Layers, meta.Width, meta.MaxSeq = l.KV, len(l.K), l.Width, l.MaxSeq
	tb := region[l.Tokens : l.Tokens+4*uint32(l.MaxSeq)]
	if uintptr(unsafe.Pointer(&tb[0]))%4 != 0 {
		return nil, fmt.Errorf("state region: token ids at %p are not 4-byte aligned", &tb[0])
	}
	// The region is little-endian, as are all hosts this runs on (amd64,
	// arm64), so the ids are int32 in place.
	tokens := unsafe.Slice((*int32)(unsafe.Pointer(&tb[0])), l.MaxSeq)
	st := &snapshot.State{Meta: meta, Pos: h.Pos, Next: h.Next, Tokens: tokens[:h.Pos],
		K: make([][]byte, len(l.K)), V: make([][]byte, len(l.V))}
	for i := range l.K {
		st.K[i] = region[l.K[i] : l.K[i]+l.LayerBytes]
		st.V[i] = region[l.V[i] : l.V[i]+l.LayerBytes]
	}
	return st, nil
}
