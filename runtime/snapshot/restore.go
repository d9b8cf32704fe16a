package snapshot

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/wasmgpu/wasmgpu/internal/regular"
	"github.com/wasmgpu/wasmgpu/internal/safetensors"
)

// Info describes a snapshot that was read.
type Info struct {
	Meta        Meta   // as the source recorded it
	Pos         int    // tokens restored
	Next        int32  // the predicted next token, or NoToken
	Bytes       int64  // the whole snapshot: length prefix, header, data
	HeaderBytes int64  // length prefix and JSON header
	DataBytes   int64  // tensor data, read straight into the destination
	Tensors     int    // tensors read: tokens plus a K and a V per layer
	DataCRC     uint32 // CRC-32C of the data, verified
}

// Restore reads the snapshot at path into into, whose Meta says what the
// snapshot must match and how many tokens (MaxSeq) it can hold. Each tensor
// is read straight into into.K[i] and into.V[i]; on success into.Pos,
// into.Next and into.Tokens are set and the rows past Pos are left as they
// were.
//
// Everything that can be checked before tensor data lands is checked first,
// and a failure leaves into exactly as it was: a path that is not a regular
// file (a FIFO is refused, not waited on), a snapshot that does not fit
// (*MismatchError, naming the field) or whose header is corrupt, a size
// that disagrees with the header, and a next token or token id outside
// into.Meta.Vocab (the token ids are read and checked before the caches).
// An error after that (a truncated file, a bad checksum: errors.Is(err,
// ErrChecksum)) leaves into.Pos at 0 and into's caches partly overwritten:
// the caller must not use them, and should reset the conversation.
func Restore(path string, into *State) (Info, error) {
	f, fi, err := regular.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot restore: %w", err)
	}
	defer f.Close()
	info, err := restore(f, fi.Size(), path, into)
	if err != nil {
		return info, fmt.Errorf("snapshot restore %s: %w", path, err)
	}
	return info, nil
}

// ReadFrom reads one snapshot, as WriteTo wrote it, from r into into, with
// the same checks and guarantees as Restore. It reads exactly the
// snapshot's bytes from r and no more, so r may carry further data; the
// snapshot's end is known from its header. Without a size to check the
// header against, a truncated stream is detected only when it ends early.
func ReadFrom(r io.Reader, into *State) (Info, error) {
	info, err := restore(r, -1, "stream", into)
	if err != nil {
		return info, fmt.Errorf("snapshot read: %w", err)
	}
	return info, nil
}

// restore reads a snapshot of size bytes (-1: unknown) from r into into.
// name identifies the source in errors.
func restore(r io.Reader, size int64, name string, into *State) (Info, error) {
	ra, isFile := r.(io.ReaderAt)
	isFile = isFile && size >= 0
	var raw, head []byte
	var err error
	if isFile {
		buf := headPool.Get().(*[]byte)
		defer headPool.Put(buf)
		raw, head, err = readHeaderAt(ra, size, buf)
	} else {
		raw, err = readHeader(r, size)
	}
	if err != nil {
		return Info{}, err
	}
	hdrLen := 8 + int64(len(raw))
	// The fast path decodes only the metadata (this package writes it
	// first) and then checks that the whole header is byte for byte the one
	// this package writes for it. The full safetensors parse runs only when
	// that fails, to say precisely what is wrong.
	var parsed *safetensors.Header
	parse := func() error {
		if parsed != nil {
			return nil
		}
		dataSize := int64(1 << 62) // unknown: the header's own offsets say
		if size >= 0 {
			dataSize = size - hdrLen
		}
		parsed, err = safetensors.ParseHeader(name, raw, dataSize)
		return err
	}
	md, err := leadingMetadata(raw)
	if err != nil {
		if err := parse(); err != nil {
			return Info{}, err
		}
		md = parsed.Metadata
	}
	h, err := decodeMeta(md)
	if err != nil {
		return Info{}, err
	}
	info := Info{Meta: h.meta, Pos: h.pos, Next: h.next, HeaderBytes: hdrLen, Tensors: 1 + 2*h.meta.Layers, DataCRC: h.dataCRC}
	if err := checkFits(h, into.Meta); err != nil {
		return info, err
	}
	if err := into.checkShape(h.pos); err != nil {
		return info, fmt.Errorf("destination: %w", err)
	}
	tok := make([]byte, 4*h.pos)
	want := into.tensors(h.pos, tok)
	if cerr := checkCanonical(raw, want, md); cerr != nil {
		if err := parse(); err != nil {
			return info, err
		}
		if _, err := checkLayout(parsed, want); err != nil {
			return info, err
		}
		return info, cerr
	}
	var dataSize int64
	for _, t := range want {
		dataSize += int64(len(t.Data))
	}
	if size >= 0 {
		switch have := size - hdrLen; {
		case have < dataSize:
			return info, fmt.Errorf("data: %d bytes, the header lists %d (truncated snapshot)", have, dataSize)
		case have > dataSize:
			return info, fmt.Errorf("data: %d bytes after the last tensor (corrupt snapshot)", have-dataSize)
		}
	}
	info.DataBytes = dataSize
	info.Bytes = hdrLen + dataSize
	vocab := into.Meta.Vocab
	if vocab > 0 && h.next >= int32(min(vocab, 1<<31-1)) {
		return info, fmt.Errorf("%s: %d is outside the destination's vocabulary of %d", KeyNext, h.next, vocab)
	}

	// The token ids come first in the file and are read into tok, not into
	// the destination: check them before a byte of the caches moves. A file's
	// first read (readHeaderAt) often holds them already.
	var crc uint32
	switch {
	case int64(len(head)) >= hdrLen+int64(len(tok)):
		copy(tok, head[hdrLen:])
		crc = crc32.Checksum(tok, castagnoli)
	case isFile:
		crc, err = readAtCRC(ra, hdrLen, [][]byte{tok}, nil)
	default:
		crc, err = readCRC(r, [][]byte{tok}, nil)
	}
	if err != nil {
		return info, fmt.Errorf("data: %w (truncated snapshot?)", err)
	}
	for i := range h.pos {
		switch id := int32(binary.LittleEndian.Uint32(tok[4*i:])); {
		case id < 0:
			return info, fmt.Errorf("tokens: id %d at position %d is negative (corrupt snapshot)", id, i)
		case vocab > 0 && int(id) >= vocab:
			return info, fmt.Errorf("tokens: id %d at position %d is outside the destination's vocabulary of %d", id, i, vocab)
		}
	}

	// From here on into is written: any error leaves it invalid.
	into.invalidate()
	pieces := make([][]byte, 0, len(want)-1)
	var cacheBytes int64
	for _, t := range want[1:] {
		pieces = append(pieces, t.Data)
		cacheBytes += int64(len(t.Data))
	}
	var cacheCRC uint32
	if isFile {
		// A file: read pieces at their offsets on several cores.
		cacheCRC, err = readAtCRC(ra, hdrLen+int64(len(tok)), pieces, into.Landed)
	} else {
		cacheCRC, err = readCRC(r, pieces, into.Landed)
	}
	if err != nil {
		return info, fmt.Errorf("data: %w (truncated snapshot?)", err)
	}
	if crc = crc32Combine(crc, cacheCRC, cacheBytes); crc != h.dataCRC {
		return info, fmt.Errorf("%s: data checksum is %s, computed %s: %w", KeyDataCRC, crcString(h.dataCRC), crcString(crc), ErrChecksum)
	}
	if cap(into.Tokens) < h.pos {
		into.Tokens = make([]int32, h.pos)
	}
	into.Tokens = into.Tokens[:h.pos]
	for i := range into.Tokens {
		into.Tokens[i] = int32(binary.LittleEndian.Uint32(tok[4*i:]))
	}
	into.Pos, into.Next = h.pos, h.next
	return info, nil
}

// readHeader reads the length prefix and JSON header of a snapshot of size
// bytes (-1: unknown) and returns the JSON header's bytes.
func readHeader(r io.Reader, size int64) ([]byte, error) {
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("header length: %w (truncated snapshot?)", err)
	}
	n, err := headerLength(prefix[:], size)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("header: %w (truncated snapshot?)", err)
	}
	return buf, nil
}

// headProbe is how much of a snapshot file readHeaderAt reads at once: a
// Llama 3.2 1B snapshot's header is about 4 KiB, so the first read brings
// the token ids that follow it too, up to 3000 tokens.
var headProbe int64 = 16 << 10

// headPool keeps readHeaderAt's buffers: a new one costs a restore its
// allocation and, on a VM, a page fault per 4 KiB (measured: 50 µs of a
// 24-token restore into a fresh guest).
var headPool = sync.Pool{New: func() any { return new([]byte) }}

// readHeaderAt reads the length prefix and JSON header of the size-byte
// snapshot r with one positioned read of its first headProbe bytes into
// *buf (grown if needed; two reads if the header is longer). It returns the
// JSON header and the bytes read from offset 0 (head), which may go on past
// the header; both alias *buf.
func readHeaderAt(r io.ReaderAt, size int64, buf *[]byte) (raw, head []byte, err error) {
	if size < 8 {
		return nil, nil, fmt.Errorf("header length: %w (truncated snapshot?)", io.ErrUnexpectedEOF)
	}
	probe := min(size, headProbe)
	if int64(cap(*buf)) < probe {
		*buf = make([]byte, headProbe)
	}
	head = (*buf)[:probe]
	if _, err := r.ReadAt(head, 0); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("header: %w (truncated snapshot?)", err)
	}
	n, err := headerLength(head[:8], size)
	if err != nil {
		return nil, nil, err
	}
	if end := 8 + int64(n); end <= int64(len(head)) {
		return head[8:end], head, nil
	}
	raw = make([]byte, n)
	if _, err := r.ReadAt(raw, 8); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, nil, fmt.Errorf("header: %w (truncated snapshot?)", err)
	}
	return raw, nil, nil
}

// headerLength checks a snapshot's 8-byte length prefix against the
// snapshot's size (-1: unknown) and returns the JSON header's length.
func headerLength(prefix []byte, size int64) (uint64, error) {
	n := binary.LittleEndian.Uint64(prefix)
	switch {
	case n < 2 || n > maxHeader:
		return 0, fmt.Errorf("header length: %d is outside [2, %d] (not a snapshot?)", n, maxHeader)
	case size >= 0 && int64(n) > size-8:
		return 0, fmt.Errorf("header length: %d runs past the end of the %d-byte snapshot (truncated?)", n, size)
	}
	return n, nil
}

// leadingMetadata decodes the __metadata__ object that this package writes
// as the header's first entry, without parsing the rest. Keys and values of
// plain printable ASCII without escapes (all this package writes) are read
// in place, where JSON decoding is the identity; an object with any other
// string goes to encoding/json (jsonMetadata), so the map is always the one
// encoding/json returns.
func leadingMetadata(raw []byte) (map[string]string, error) {
	const open = `{"__metadata__":{`
	if !bytes.HasPrefix(raw, []byte(open)) {
		return jsonMetadata(raw)
	}
	i := len(open)
	str := func() (string, bool) {
		if i >= len(raw) || raw[i] != '"' {
			return "", false
		}
		for j := i + 1; j < len(raw); j++ {
			switch c := raw[j]; {
			case c == '"':
				s := metaString(raw[i+1 : j])
				i = j + 1
				return s, true
			case c < 0x20 || c > 0x7e || c == '\\':
				return "", false
			}
		}
		return "", false
	}
	md := make(map[string]string, 16)
	for {
		k, ok := str()
		if !ok || i >= len(raw) || raw[i] != ':' {
			return jsonMetadata(raw)
		}
		i++
		v, ok := str()
		if !ok || i >= len(raw) {
			return jsonMetadata(raw)
		}
		md[k] = v // a repeated key: the last wins, as in encoding/json
		switch raw[i] {
		case ',':
			i++
		case '}':
			return md, nil
		default:
			return jsonMetadata(raw)
		}
	}
}

// metaKeys are the metadata keys this package writes.
var metaKeys = []string{KeyFormat, KeyFormatVersion, KeyFingerprint, KeyKVDType, KeyLayers, KeyWidth, KeyMaxSeq,
	KeyLayout, KeyTokenizer, KeySourceDevice, KeySourceMode, KeyCreated, KeyPos, KeyNext, KeyDataCRC, KeyMetaCRC, FormatName, LayoutRowMajor}

// metaString is b as a string: one of metaKeys when it is one (no
// allocation; the comparison does not copy b), a new string otherwise.
func metaString(b []byte) string {
	for _, k := range metaKeys {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// jsonMetadata decodes the header's leading __metadata__ object with
// encoding/json.
func jsonMetadata(raw []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("header: not a JSON object")
	}
	if tok, err := dec.Token(); err != nil || tok != "__metadata__" {
		return nil, errors.New("header: __metadata__ is not the first entry")
	}
	var md map[string]string
	if err := dec.Decode(&md); err != nil {
		return nil, fmt.Errorf("header: __metadata__: %w", err)
	}
	return md, nil
}

// readCRC reads every piece in turn from r straight into the piece and
// returns the CRC-32C of all. A second goroutine checksums each chunk just
// after it lands (still in the CPU's cache) while the next one is read, so
// a stream is read at the speed of its source, not of read plus CRC.
// landed, if not nil, is called with each piece once it is read.
func readCRC(r io.Reader, pieces [][]byte, landed func([]byte)) (uint32, error) {
	chunks := make(chan []byte, 64)
	sum := make(chan uint32)
	go func() {
		var c uint32
		for x := range chunks {
			c = crc32.Update(c, castagnoli, x)
		}
		sum <- c
	}()
	var err error
read:
	for _, piece := range pieces {
		for p := piece; len(p) > 0; {
			x := p[:min(len(p), readChunk)]
			if _, err = io.ReadFull(r, x); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				break read
			}
			chunks <- x
			p = p[len(x):]
		}
		if landed != nil {
			landed(piece)
		}
	}
	close(chunks)
	c := <-sum
	return c, err
}
