// Package kernels holds the GPU kernel sources the device backends compile at
// run time and embeds them with go:embed: CUDA C (*.cu, compiled by NVRTC) for
// the cuda backend and Metal Shading Language (*.metal, compiled by the Metal
// framework) for the metal backend. Keeping sources, not binaries, in the
// module means a plain `go build` with CGO_ENABLED=0 produces a binary that
// runs on any machine with the vendor's driver, and the kernels of both
// backends can be read side by side.
package kernels
