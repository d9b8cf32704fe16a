// Package tenants runs many Llama conversations side by side, each in its
// own Wasm sandbox, sharing one copy of the weights, and batches their
// decode steps across the sandboxes (issue 16).
//
// A Pool holds the shared pieces: the compiled guest (a wasm.Runtime), the
// device, the loaded weights and a batch memory. Each Tenant is its own
// wasm.Guest — its own wazero instance and linear memory (a device.Memory
// of the pool's device), holding its conversation: token ids, KV cache and
// activations. Admit makes a tenant and prefills its prompt; Restore makes
// one from a snapshot (admission after eviction); Snapshot evicts one to a
// file in the existing snapshot format (runtime/snapshot). Tenants decode
// concurrently, each from its own goroutine calling Tenant.Decode.
//
// # How a decode step is batched
//
// Tenants decode in program mode (llmhost.Options.Program): a guest's token
// step is one llm_program_run host call. The pool sets each guest's
// wasm.Guest.RunProgram, so that the run is handed to the pool's scheduler
// instead of run alone. The run is first bound at the guest's position on
// the guest's own memory (llmabi.Exec.Bind: every range validated against
// that guest's memory, as it would be alone; an invalid one traps that
// guest alone, before it joins anything). It then joins the open batch of
// runs of an equal program (equal llmabi.Program.Key: the same calls and
// patches, compared by value). A batch closes when
//
//   - every tenant of the pool has joined a batch, but those that missed
//     one: a tenant that did not join a batch before it timed out (it
//     was busy in its own code, or has stopped decoding) is not waited
//     for again until it joins one. So tenants decoding in a loop run in
//     full batches, and a tenant that stops decoding without being closed
//     (or evicted) costs one batch MaxWait, not every batch;
//   - or MaxWait has passed since its first run arrived;
//   - or it holds MaxTenants runs.
//
// The first run's goroutine then executes the batch while the others'
// host calls wait, and every host call returns with its own error. A batch
// of one runs the guest's program exactly as alone (llmabi.Exec.Run: the
// plain path, the device's prepared program where it has one). A batch of
// several runs with llmabi.Batch: per-sequence ops (rope_kv, attention)
// once per guest on that guest's memory; row-wise ops (the projections,
// norms, embed, argmax) once for all, their rows gathered into the batch
// memory, run with n = the guests' rows, and scattered back; sync once.
// Batches execute one at a time (they share the batch memory and the
// device). A tenant that submits a program no other tenant runs runs in a
// batch of its own; Stats counts such runs by why they ran alone.
//
// # Numerics
//
// A batch of several tokens runs the projections as GEMMs; on the cpu
// device those round the activations to bfloat16 (internal/simd: within
// about 4e-3 of Σ|w·x| at worst) where one token's GEMV keeps them in
// float32. So a tenant's logits in a batch of several differ from its
// logits alone by that tolerance, and its greedy tokens equal its tokens
// alone unless two logits are closer than it (see the tests, which compare
// both). RATIONALE.md ("Tenants: batching across sandboxes") has the
// measured differences.
//
// # Isolation
//
// A tenant's failure is its own: its ranges are checked against its own
// memory only; a run that traps, a tenant that never runs (it loops in its
// own code) or one stopped by its limits (wasm.Limits, per guest) is left
// out of its batch or fails alone while the batch goes on; a batched
// row-wise call that fails is run again guest by guest so each gets its
// own result. A tenant whose Decode fails is closed and leaves the pool.
// No row of one tenant is ever written to another's memory: only output
// operands are scattered, each to the guest it came from, never scratch.
package tenants
