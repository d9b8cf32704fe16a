// Package llm is the Llama inference engine: the token loop and the forward
// pass of a Llama-architecture model, written once and run in two places —
// inside the Wasm guest, where each kernel is an import of the host ABI, and
// natively on the host, where each kernel is a direct call into a device
// (the "native" control that prices the Wasm boundary).
//
// Read reference.go first: the model's forward pass written plainly in
// float64, one token at a time, in the shape of llama2.c's run.c (config,
// weights and run state stated once, one comment per step); Reference runs
// it, and the tests hold the engine to it and it to Hugging Face
// transformers. forward.go is the same pass as the engine runs it: the
// weights' tensor ids (TensorIDs) and the run-state buffers (runState) stated
// once, one kernel call per step. The engine does no arithmetic on
// activations itself: every step is an llmabi.Call on Kernels with spans of
// the engine's memory, so the same sequence of kernels runs on every device.
// What the engine computes is bookkeeping: positions, the RoPE inverse
// frequencies (llama3 scaling, exactly as Hugging Face computes them), and
// sampling with temperature and top-p on the logits.
//
// A decode step can also run as a program (Engine.SetProgram): the engine
// records the calls its forward pass and pick make for one token, at three
// positions, without running them (llmabi.Record), hands them over once
// (ProgramKernels), and then runs the step with one call per token — from
// the guest, one host call instead of one per kernel. The calls are the
// op-by-op path's, in its order, so the results are the same bit for bit.
//
// All of one conversation's state — token ids, position and the KV cache —
// lives in one contiguous region with a small header (see State), so a
// snapshot is that region's bytes and a restore writes them back and calls
// Resume. The KV cache is bf16 by default: half the bytes of f32 to store,
// move and snapshot, and the model's own precision (its weights and its
// Hugging Face runtime are bf16, so f32 keys and values carry no information
// the model was trained to use); f32 is there for exact comparisons against
// a float32 reference, f16 for devices that prefer it.
//
// The package builds for GOOS=wasip1 (the guest) and the host alike; it
// imports models for Config (and Reference for the weights), and device and
// llmabi for their value types.
package llm
