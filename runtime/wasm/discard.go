package wasm

import (
	"io"
	"os"
)

func orDiscard(f *os.File) io.Writer {
	if f == nil {
		return io.Discard
	}
	return f
}
