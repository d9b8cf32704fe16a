package wasm_test

// A tiny WebAssembly binary encoder for hostile test guests: modules that
// the Go toolchain would never emit (no memory, a pure infinite loop, a loop
// of host calls), written out section by section as the core spec's binary
// format describes them.

// Opcodes the test modules use.
const (
	opLoop     = 0x03
	opEnd      = 0x0b
	opBr       = 0x0c
	opCall     = 0x10
	opDrop     = 0x1a
	opI32Const = 0x41
	blockVoid  = 0x40
	valI32     = 0x7f
)

// testImport is a function the module imports from the host ABI module.
type testImport struct {
	name            string
	params, results int // counts of i32s
}

// testFunc is a function the module defines and exports: body is its code
// without the local declarations and the final end.
type testFunc struct {
	name            string
	params, results int
	body            []byte
}

// testModule describes a module: imports from "wasmgpu" (function indices
// 0..len(imports)-1), then funcs; memPages < 0 means no memory.
type testModule struct {
	imports  []testImport
	funcs    []testFunc
	memPages int
}

// encode returns the module's binary.
func (m testModule) encode() []byte {
	out := []byte{0x00, 'a', 's', 'm', 1, 0, 0, 0}
	section := func(id byte, body []byte) {
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	var types []byte
	ntypes := 0
	typeOf := func(params, results int) uint32 {
		types = append(types, 0x60)
		types = appendU32(types, uint32(params))
		for range params {
			types = append(types, valI32)
		}
		types = appendU32(types, uint32(results))
		for range results {
			types = append(types, valI32)
		}
		ntypes++
		return uint32(ntypes - 1)
	}
	var imports, funcs, exports, code []byte
	for _, im := range m.imports {
		imports = appendName(imports, "wasmgpu")
		imports = appendName(imports, im.name)
		imports = append(imports, 0x00) // function
		imports = appendU32(imports, typeOf(im.params, im.results))
	}
	for i, f := range m.funcs {
		funcs = appendU32(funcs, typeOf(f.params, f.results))
		exports = appendName(exports, f.name)
		exports = append(exports, 0x00)
		exports = appendU32(exports, uint32(len(m.imports)+i))
		body := append([]byte{0x00}, f.body...) // no locals
		body = append(body, opEnd)
		code = appendU32(code, uint32(len(body)))
		code = append(code, body...)
	}
	section(1, append(appendU32(nil, uint32(ntypes)), types...))
	if len(m.imports) > 0 {
		section(2, append(appendU32(nil, uint32(len(m.imports))), imports...))
	}
	section(3, append(appendU32(nil, uint32(len(m.funcs))), funcs...))
	if m.memPages >= 0 {
		section(5, appendU32([]byte{1, 0x00}, uint32(m.memPages))) // one memory, min pages, no max
	}
	section(7, append(appendU32(nil, uint32(len(m.funcs))), exports...))
	section(10, append(appendU32(nil, uint32(len(m.funcs))), code...))
	return out
}

// appendU32 appends v in unsigned LEB128.
func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendI32 appends v in signed LEB128.
func appendI32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

// i32s returns code that pushes each value as an i32 constant.
func i32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = appendI32(append(b, opI32Const), int32(v))
	}
	return b
}

// forever wraps body in a loop that branches back to its start for ever.
func forever(body ...byte) []byte {
	b := append([]byte{opLoop, blockVoid}, body...)
	return append(b, opBr, 0, opEnd)
}

// callFn returns code that calls function index fn.
func callFn(fn uint32) []byte { return appendU32([]byte{opCall}, fn) }
