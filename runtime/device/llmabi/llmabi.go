// Package llmabi is the Llama kernel ABI, driven by its op table
// (optable.Ops): a Call value — one op with its weight ids, spans and
// scalars — that the host decodes from a guest's arguments and the engine
// builds natively, its fixed wire encoding, the one validation every
// caller and every backend runs, and the dispatch of a Call to the device
// contract (device.LLMOps).
//
// The constructors and Dispatch (calls_gen.go), device.LLMOps
// (runtime/device/llmops_gen.go) and the guest's imports
// (runtime/guest/program/llm_gen.go) are generated from the table:
//
//	go generate ./runtime/device/llmabi
//
// and a test fails when a generated file is stale. Decoding and validation
// read the table at run time: one loop over an op's compiled layout, no
// per-op code.
//
// Decoding and validating are separate from dispatching, so that a sequence
// of calls can be validated once and run many times: a Program is a token
// step recorded once (Record), its wire form (Program.Encode,
// DecodeProgram) what a guest submits with one host call, and an Exec the
// host's validated program that runs once per token, validating again only
// the calls whose words move with the position; a device may run it
// itself (ProgramRunner). Each op's batching class (optable.Batching) says
// whether calls from many guests could run as one, and equal programs of
// many guests have equal Keys.
package llmabi

//go:generate go run ./internal/genabi

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/device/llmabi/optable"
)

// Op is an op's code (optable.Op.Code); calls_gen.go names them.
type Op uint8

// layouts are the compiled op table by code, made on first use: a guest,
// which only builds calls, never pays for it. Every decode and validation
// reads it, so its fast path is one atomic load (sync.OnceValue's closure
// call measured 5–6 ns of a 14 ns decode).
var layouts struct {
	ready atomic.Pointer[[256]*optable.Layout]
	once  sync.Once
}

func table() *[256]*optable.Layout {
	if t := layouts.ready.Load(); t != nil {
		return t
	}
	layouts.once.Do(func() {
		ls, err := optable.Compile(optable.Ops)
		if err != nil {
			panic("llmabi: the op table does not compile: " + err.Error()) // a test of optable fails first
		}
		var byCode [256]*optable.Layout
		for _, l := range ls {
			if len(l.Syms) > maxSyms || len(l.Weights) > MaxWeights || len(l.Operands) > MaxOperands || len(l.Ints) > MaxInts {
				panic("llmabi: calls_gen.go is stale: run go generate ./runtime/device/llmabi")
			}
			byCode[l.Code] = l
		}
		layouts.ready.Store(&byCode)
	})
	return layouts.ready.Load()
}

// Layout is o's compiled table entry (read-only), or nil if o is not an op.
func (o Op) Layout() *optable.Layout { return table()[o] }

// Ops are every op of the table, in code order.
func Ops() []Op {
	var ops []Op
	for _, l := range table() {
		if l != nil {
			ops = append(ops, Op(l.Code))
		}
	}
	return ops
}

// String is the op's name ("norm_linear"), or "op N" if o is not an op.
func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("op %d", uint8(o))
}

// Import is the op's host function: "llm_" + its name.
func (o Op) Import() string { return "llm_" + o.String() }

// Words is the number of 32-bit words of o's wire arguments, its code not
// counted; -1 if o is not an op.
func (o Op) Words() int {
	if l := o.Layout(); l != nil {
		return len(l.Wire)
	}
	return -1
}

// KVCode is dt's code on the wire, or 0xffffffff, which every host refuses,
// for an unknown dtype.
func KVCode(dt device.KVDType) uint32 {
	if c, ok := dt.Code(); ok {
		return c
	}
	return 0xffffffff
}
