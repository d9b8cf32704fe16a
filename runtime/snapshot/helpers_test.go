package snapshot

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/wasmgpu/wasmgpu/internal/safetensors"
	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// testMeta is a small model's snapshot metadata.
func testMeta(dt device.KVDType, layers, width, maxSeq int) Meta {
	return Meta{
		Fingerprint:  "cfg:sha256:0123abcd/synthetic:1",
		KVDType:      dt,
		Layers:       layers,
		Width:        width,
		MaxSeq:       maxSeq,
		Tokenizer:    "sha256:feed",
		SourceDevice: "cpu",
		SourceMode:   "zerocopy",
		Created:      time.Date(2026, 11, 25, 12, 0, 0, 123, time.UTC),
	}
}

// newState returns a state of pos tokens whose caches (maxSeq rows each) hold
// seeded random bytes.
func newState(m Meta, pos int, seed uint64) *State {
	r := rand.New(rand.NewPCG(seed, 7))
	st := &State{Meta: m, Pos: pos, Next: int32(r.IntN(1000)), Tokens: make([]int32, pos)}
	for i := range st.Tokens {
		st.Tokens[i] = int32(r.Uint32() >> 1)
	}
	n := m.MaxSeq * m.RowBytes()
	for range m.Layers {
		k, v := make([]byte, n), make([]byte, n)
		fill(r, k)
		fill(r, v)
		st.K, st.V = append(st.K, k), append(st.V, v)
	}
	return st
}

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// emptyState returns a destination of m's geometry whose caches hold 0xAA
// and whose Pos is 3, so tests can see what a restore touched.
func emptyState(m Meta) *State {
	st := &State{Meta: m, Pos: 3, Next: 5, Tokens: make([]int32, 3, m.MaxSeq)}
	n := m.MaxSeq * m.RowBytes()
	for range m.Layers {
		st.K = append(st.K, bytes.Repeat([]byte{0xAA}, n))
		st.V = append(st.V, bytes.Repeat([]byte{0xAA}, n))
	}
	return st
}

// untouched reports whether dst is still as emptyState made it.
func untouched(dst *State) bool {
	if dst.Pos != 3 || dst.Next != 5 || len(dst.Tokens) != 3 {
		return false
	}
	for i := range dst.K {
		for _, b := range [][]byte{dst.K[i], dst.V[i]} {
			if len(bytes.Trim(b, "\xAA")) != 0 {
				return false
			}
		}
	}
	return true
}

// mustRefuse reads the snapshot img into dst (as emptyState made it) and
// fails t unless that fails with an error containing want and leaves dst
// untouched; it returns the error.
func mustRefuse(t *testing.T, img []byte, dst *State, want string) error {
	t.Helper()
	_, err := ReadFrom(bytes.NewReader(img), dst)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one containing %q", err, want)
	}
	if !untouched(dst) {
		t.Error("a refused snapshot touched the destination")
	}
	return err
}

// sameState fails t unless got holds want's tokens and live rows and its rows
// past Pos are still 0xAA.
func sameState(t *testing.T, got, want *State) {
	t.Helper()
	if got.Pos != want.Pos || got.Next != want.Next {
		t.Fatalf("pos %d next %d, want %d %d", got.Pos, got.Next, want.Pos, want.Next)
	}
	if len(got.Tokens) != want.Pos {
		t.Fatalf("%d tokens, want %d", len(got.Tokens), want.Pos)
	}
	for i := range want.Tokens {
		if got.Tokens[i] != want.Tokens[i] {
			t.Fatalf("token %d = %d, want %d", i, got.Tokens[i], want.Tokens[i])
		}
	}
	n := want.Pos * want.Meta.RowBytes()
	for i := range want.K {
		for _, p := range []struct {
			name     string
			got, src []byte
		}{{kName(i), got.K[i], want.K[i]}, {vName(i), got.V[i], want.V[i]}} {
			if !bytes.Equal(p.got[:n], p.src[:n]) {
				t.Fatalf("%s: live rows differ", p.name)
			}
			if len(bytes.Trim(p.got[n:], "\xAA")) != 0 {
				t.Fatalf("%s: rows past pos were written", p.name)
			}
		}
	}
}

// encodeBytes returns st's snapshot as bytes.
func encodeBytes(t testing.TB, st *State) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := WriteTo(&buf, st); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dataOffset is where the tensor data of the encoded snapshot img starts,
// after the header's length prefix and JSON.
func dataOffset(t testing.TB, img []byte) int {
	t.Helper()
	f, err := safetensors.Parse("img", img)
	if err != nil {
		t.Fatal(err)
	}
	return int(f.Header().DataOffset())
}

// rewrite re-encodes a snapshot after edit changed its metadata or tensors.
// With fixCRC the metadata checksum is recomputed, so only edit's change is
// wrong.
func rewrite(t testing.TB, img []byte, fixCRC bool, edit func(md map[string]string, ts []safetensors.Tensor) []safetensors.Tensor) []byte {
	t.Helper()
	f, err := safetensors.Parse("img", img)
	if err != nil {
		t.Fatal(err)
	}
	md := make(map[string]string)
	for k, v := range f.Metadata() {
		md[k] = v
	}
	ts := edit(md, append([]safetensors.Tensor(nil), f.Tensors()...))
	if fixCRC {
		md[KeyMetaCRC] = crcString(metaCRC(md))
	}
	var buf bytes.Buffer
	if _, err := safetensors.WriteTo(&buf, ts, md); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
