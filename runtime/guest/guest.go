// Package guest holds the wasmgpu guest module, built from ./program with
// GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and embedded here, so a binary
// of the harness carries its guest. Run `go generate ./runtime/guest` after
// changing the program; a test fails when the committed guest.wasm is stale.
package guest

import _ "embed"

//go:generate env GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -buildvcs=false -o guest.wasm ./program

// Wasm is the guest module's binary.
//
//go:embed guest.wasm
var Wasm []byte
