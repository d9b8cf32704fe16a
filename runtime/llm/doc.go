// Package llm is the Llama inference engine: the token loop and the forward
// pass of a Llama-architecture model, written once and run in two places —
// inside the Wasm guest, where each kernel is an import of the host ABI, and
// natively on the host, where each kernel is a direct call into a device
// (the "native" control that prices the Wasm boundary).
//
// The shape is llama2.c's run.c: the weights' tensor ids (TensorIDs) and the
// run-state buffers (runState) are stated once in structs, and forward reads
// top to bottom, one comment per step. The engine does no arithmetic on
// activations itself: every step is a call on Kernels with offsets into the
// engine's memory, so the same sequence of kernels runs on every device.
// What the engine computes is bookkeeping: positions, the RoPE inverse
// frequencies (llama3 scaling, exactly as Hugging Face computes them), and
// sampling with temperature and top-p on the logits.
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
// imports models only for Config, and device only for its small value types.
package llm
