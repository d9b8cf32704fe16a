// Package safetensors reads and writes the safetensors tensor file format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header naming each tensor's dtype, shape and byte range, and
// the raw little-endian tensor data.
//
// It serves two users: models/, which maps multi-gigabyte weight files
// read-only and hands out zero-copy views of them (Open), and KV snapshots,
// which are written atomically to disk (Write) or streamed over a network
// (WriteTo, NewReader) with each tensor read straight into memory the caller
// owns.
//
// Every header is validated before any tensor is handed out: the header
// length, the JSON, each dtype, shape and byte range, and that no two tensors
// overlap. Every error names the file and the tensor or field at fault; no
// input makes the package panic.
package safetensors
