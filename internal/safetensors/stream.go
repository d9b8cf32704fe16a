package safetensors

import (
	"fmt"
	"io"
)

// Reader reads a safetensors image from a stream (a snapshot arriving over
// TCP) tensor by tensor, in data order, so that each tensor can be read
// straight into memory the caller owns with no intermediate copy:
//
//	sr, err := safetensors.NewReader(conn, size, "peer")
//	for {
//		t, err := sr.Next()
//		if err == io.EOF { break }
//		dst := region(t)              // caller-provided, len t.Size()
//		err = sr.ReadTensor(dst)
//	}
//
// A tensor the caller does not read is skipped by the next call to Next.
type Reader struct {
	r      io.Reader
	file   string
	header *Header
	next   int   // index of the next tensor Next returns
	pos    int64 // bytes of the data section consumed
	end    int64 // end of the current tensor in the data section
	cur    string
}

// NewReader reads and validates the header of a safetensors image of size
// bytes from r. file names the source in errors. It reads exactly size bytes
// from r over its life, never more, so r may carry further messages.
func NewReader(r io.Reader, size int64, file string) (*Reader, error) {
	h, err := ReadHeader(r, size, file)
	if err != nil {
		return nil, err
	}
	return &Reader{r: r, file: file, header: h}, nil
}

// Header returns the validated header.
func (s *Reader) Header() *Header { return s.header }

// Next skips whatever is left of the current tensor and any gap, and returns
// the next tensor's description. After the last tensor it consumes trailing
// bytes and returns io.EOF.
func (s *Reader) Next() (TensorInfo, error) {
	if s.next == len(s.header.Tensors) {
		if err := s.skip(s.header.DataSize, ""); err != nil {
			return TensorInfo{}, err
		}
		s.end, s.cur = s.pos, ""
		return TensorInfo{}, io.EOF
	}
	t := s.header.Tensors[s.next]
	s.next++
	if t.Size() == 0 && t.Begin < s.pos { // an empty tensor inside one already passed
		s.end, s.cur = s.pos, t.Name
		return t, nil
	}
	// The header is sorted and overlap-free, so t.Begin >= s.pos here.
	if err := s.skip(t.Begin, t.Name); err != nil {
		return TensorInfo{}, err
	}
	s.end, s.cur = t.End, t.Name
	return t, nil
}

func (s *Reader) skip(to int64, tensor string) error {
	if to <= s.pos {
		return nil
	}
	n, err := io.CopyN(io.Discard, s.r, to-s.pos)
	s.pos += n
	if err != nil {
		return &Error{File: s.file, Tensor: tensor, Msg: fmt.Sprintf("skip to data offset %d", to), Err: noEOF(err)}
	}
	return nil
}

// Read reads from the current tensor's data; it returns io.EOF at the end of
// the tensor. Reader therefore satisfies io.Reader per tensor.
func (s *Reader) Read(p []byte) (int, error) {
	left := s.end - s.pos
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	n, err := s.r.Read(p)
	s.pos += int64(n)
	if err == io.EOF && s.pos < s.end {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		return n, &Error{File: s.file, Tensor: s.cur, Msg: "read data", Err: err}
	}
	return n, nil
}

// ReadTensor reads the whole current tensor into dst, which must be exactly
// the tensor's size: the bytes land in dst with no intermediate buffer.
func (s *Reader) ReadTensor(dst []byte) error {
	if int64(len(dst)) != s.end-s.pos {
		return errorf(s.file, s.cur, "", "destination is %d bytes, %d left to read", len(dst), s.end-s.pos)
	}
	if _, err := io.ReadFull(s, dst); err != nil {
		return noEOF(err)
	}
	return nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
