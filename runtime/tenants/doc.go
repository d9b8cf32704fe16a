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
//   - every tenant it waits for has joined: every admitted tenant of the
//     pool but those waiting in an open batch of another program, those
//     whose last run was of another program, and those that missed a
//     batch: a tenant that did not join a batch before it timed out (busy
//     in its own code, or no longer decoding) is not waited for again until
//     it joins one. A tenant whose batch is executing is waited for: it
//     comes back for the next step. So tenants decoding in a loop run in
//     full batches, and a tenant that stops decoding without being closed
//     (or evicted) costs one batch MaxWait, not every batch;
//   - or MaxWait has passed since its first run arrived, not counting the
//     time a batch of its program was executing (its tenants come back
//     after it, and batches execute one at a time anyway);
//   - or it holds MaxTenants runs.
//
// The first run's goroutine then executes the batch while the others'
// host calls wait, and every host call returns with its own error. A batch
// of one runs the guest's program exactly as alone (llmabi.Exec.Run: the
// plain path, the device's prepared program where it has one). A batch of
// several runs with llmabi.Batch: per-sequence ops (rope_kv, attention)
// once per guest on that guest's memory; row-wise ops (the projections,
// norms, embed, argmax) once for all, their rows gathered into the batch
// memory, run with n = the guests' rows, and scattered back (by the host on
// cpu, by device copies on cuda managed memory: llmabi.RowCopier); sync
// once.
// Batches execute one at a time (they share the batch memory and the
// device). A tenant that submits a program no other tenant runs runs in a
// batch of its own; Stats counts such runs by why they ran alone.
//
// # Numerics
//
// A batch of several tokens runs the projections as GEMMs; on the cpu
// device those round the activations to bfloat16 (internal/simd: within
// 2⁻⁸ of Σ|w·x| a projection at worst) where one token's GEMV keeps them
// in float32: that is what makes 8 tokens cost about as much as one (the
// weights are read once). So a step's logits in a batch of several differ
// from the same step's logits alone, within LogitTolerance of the largest
// logit, and where two logits are closer than that (a near tie) the greedy
// pick may differ, after which the conversations part ways. A batch of one
// runs exactly as a guest alone. How to check a batched run: feed a
// reference tenant alone the batched tenant's tokens one by one (teacher
// forcing: the same history at each step) and require, at every step, that
// the batched pick Agrees with the logits alone; comparing free-running
// token sequences fails on the first near tie. Measured (RATIONALE.md,
// "Tenants: batching across sandboxes"): Tiny's batched tokens equal its
// tokens alone, logits within 3.1·10⁻³; synthetic Llama 3.2 1B, whose
// random weights give near-uniform logits, differs in 5 of 128 picks, each
// a near tie, logits within 1.5·10⁻².
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
