package snapshot

import (
	"fmt"

	"github.com/wasmgpu/wasmgpu/internal/regular"
)

// ReadFile reads the regular file at path into buf, which must be exactly
// its size, the way Restore reads a snapshot's tensor data: positioned
// reads in units spread over every core, each chunk checksummed as it
// lands. It returns the CRC-32C of the file. It is Restore's reader without
// a snapshot around it: a file just dropped from the page cache reads at
// the disk's speed as a cold restore sees it, which is what the kv
// experiment reports beside its cold restores.
func ReadFile(path string, buf []byte) (uint32, error) {
	f, fi, err := regular.Open(path)
	if err != nil {
		return 0, fmt.Errorf("snapshot read file: %w", err)
	}
	defer f.Close()
	if fi.Size() != int64(len(buf)) {
		return 0, fmt.Errorf("snapshot read file %s: %d bytes, the buffer holds %d", path, fi.Size(), len(buf))
	}
	crc, err := readAtCRC(f, 0, [][]byte{buf}, nil)
	if err != nil {
		return 0, fmt.Errorf("snapshot read file %s: %w", path, err)
	}
	return crc, nil
}
