package safetensors

import (
	"errors"
	"fmt"

	"github.com/wasmgpu/wasmgpu/internal/regular"
)

// File is an open safetensors file whose tensors are zero-copy views of its
// bytes. Close releases the mapping; tensors from a closed File must not be
// used.
type File struct {
	path    string
	header  *Header
	tensors []Tensor
	byName  map[string]int
	release func() error
}

// Open maps the file at path read-only and validates its header. Tensor data
// is not read (a 2.5 GB file opens in microseconds); pages are faulted in by
// whoever touches them.
//
// Only a regular file is opened (a FIFO is refused at once, not waited on).
// A mapped file that shrinks while its tensors are in use makes reads past
// its new end fault (SIGBUS): the cpu kernels run with
// runtime/debug.SetPanicOnFault and report that as an error; other readers
// of the tensors must do the same or keep the file from changing.
func Open(path string) (*File, error) {
	f, st, err := regular.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "open", Err: err}
	}
	defer f.Close()
	if st.Size() < 8 {
		return nil, errorf(path, "", "header length", "file is %d bytes, shorter than the 8-byte header length (truncated?)", st.Size())
	}
	data, release, err := mapFile(f, st.Size())
	if err != nil {
		return nil, &Error{File: path, Msg: "mmap", Err: err}
	}
	sf, err := Parse(path, data)
	if err != nil {
		return nil, errors.Join(err, release())
	}
	sf.release = release
	return sf, nil
}

// Parse validates an in-memory safetensors image and returns a File whose
// tensors are views of buf. name identifies buf in errors.
func Parse(name string, buf []byte) (*File, error) {
	if len(buf) < 8 {
		return nil, errorf(name, "", "header length", "file is %d bytes, shorter than the 8-byte header length (truncated?)", len(buf))
	}
	n, err := splitPrefix(name, buf[:8], int64(len(buf)))
	if err != nil {
		return nil, err
	}
	h, err := ParseHeader(name, buf[8:8+n], int64(len(buf))-8-n)
	if err != nil {
		return nil, err
	}
	data := buf[8+n:]
	f := &File{path: name, header: h, byName: make(map[string]int, len(h.Tensors))}
	f.tensors = make([]Tensor, len(h.Tensors))
	for i, t := range h.Tensors {
		f.tensors[i] = Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Data: data[t.Begin:t.End:t.End]}
		f.byName[t.Name] = i
	}
	return f, nil
}

// Path returns the path (or name) the File was opened with.
func (f *File) Path() string { return f.path }

// Header returns the validated header, with offsets and gaps.
func (f *File) Header() *Header { return f.header }

// Metadata returns the __metadata__ map (nil when the file has none).
func (f *File) Metadata() map[string]string { return f.header.Metadata }

// Tensors returns every tensor in data order. The slice is shared: do not modify it.
func (f *File) Tensors() []Tensor { return f.tensors }

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (Tensor, bool) {
	i, ok := f.byName[name]
	if !ok {
		return Tensor{}, false
	}
	return f.tensors[i], true
}

// Close unmaps the file. Tensor data from f must not be used afterwards.
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	err := f.release()
	f.release = nil
	f.tensors, f.byName = nil, nil
	if err != nil {
		return fmt.Errorf("safetensors %s: unmap: %w", f.path, err)
	}
	return nil
}
