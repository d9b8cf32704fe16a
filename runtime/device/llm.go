package device

// This file and llmops_gen.go are the contract between the Llama engine
// (runtime/llm, which runs inside the guest or natively on the host) and the
// backends' kernels. The engine owns activations and the KV cache, at
// offsets in a Memory; weights are host resources loaded once per device,
// read-only, referenced by tensor id, and shared by every guest that runs
// the model. The ops themselves (LLMOps) are declared once, with their
// operands' shapes and overlap rules, in the op table
// (runtime/device/llmabi/optable), and llmops_gen.go is generated from it.
//
// Conventions for every op:
//   - activations are float32, row-major, one row per token: [n, width];
//   - weights follow Hugging Face: a projection W is [out, in] and
//     Linear computes out[t, o] = Σ_i x[t, i]·W[o, i];
//   - a KV cache is [maxSeq, kvHeads·headDim] per layer and per K and V,
//     in the KVDType the engine chose, written by KVStore and read by Attention;
//   - ops are queued in order on the Memory and may run asynchronously; Sync
//     waits for them. The engine reads results (Argmax) only after Sync.
//   - an op validates its call as llmabi.Call.Validate does (spans inside
//     the Memory's size, lengths that match the shapes and the weights,
//     no hazardous overlap) and returns an error; it never touches memory
//     outside its spans.

// WeightTensor is one read-only weight tensor handed to a device.
type WeightTensor struct {
	Name  string
	DType string // "BF16", "F16" or "F32"
	Shape []int  // row-major
	Data  []byte // little-endian; the device may keep a reference (no copy) until Weights.Close
}

// Weights is a model's tensors resident on (or mapped for) one device.
type Weights interface {
	// Tensor returns the shape and dtype of tensor id, or false if there is none.
	Tensor(id int) (WeightTensor, bool)
	// DeviceBytes is the device memory the weights occupy (0 if they stay in host memory).
	DeviceBytes() uint64
	// Close releases them. Memories using them must not run ops afterwards.
	Close() error
}

// LLMDevice is a Device that can run the Llama kernels.
type LLMDevice interface {
	Device
	// LoadWeights makes tensors available to kernels; tensor id i is ts[i].
	LoadWeights(ts []WeightTensor) (Weights, error)
}
