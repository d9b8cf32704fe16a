package device

// The element types. Kernels read and write three: float32, bfloat16 and
// IEEE half. Weights spell them as safetensors headers do
// (WeightTensor.DType: "F32", "BF16", "F16"); a KV cache spells them in
// lower case (KVDType: "f32", "bf16", "f16"), as specs, results and
// snapshots do; the host ABI and the engine's state header number a KV
// dtype (its code). dtypes is the one place that says which is which.
var dtypes = [...]struct {
	kv     KVDType
	weight string
	size   int
}{
	{KVF32, "F32", 4}, // code 0
	{KVBF16, "BF16", 2},
	{KVF16, "F16", 2},
}

// KVDType is the element type of a KV cache.
type KVDType string

// The KV cache element types.
const (
	KVF32  KVDType = "f32"
	KVBF16 KVDType = "bf16"
	KVF16  KVDType = "f16"
)

// KVDTypes are the KV cache element types in code order: KVDTypes()[c] has code c.
func KVDTypes() []KVDType {
	out := make([]KVDType, len(dtypes))
	for i, d := range dtypes[:] {
		out[i] = d.kv
	}
	return out
}

// Size is the element size in bytes (0 for an unknown type).
func (k KVDType) Size() int {
	for _, d := range dtypes[:] {
		if d.kv == k {
			return d.size
		}
	}
	return 0
}

// Code is k's number in the host ABI and the state header, and false for
// an unknown type.
func (k KVDType) Code() (uint32, bool) {
	for i, d := range dtypes[:] {
		if d.kv == k {
			return uint32(i), true
		}
	}
	return 0, false
}

// KVDTypeOf returns the KV dtype with code c, and false if there is none.
func KVDTypeOf(c uint32) (KVDType, bool) {
	if c >= uint32(len(dtypes)) {
		return "", false
	}
	return dtypes[c].kv, true
}

// WeightDType is the safetensors spelling of k's element type ("BF16"
// for bf16), "" for an unknown type.
func (k KVDType) WeightDType() string {
	for _, d := range dtypes[:] {
		if d.kv == k {
			return d.weight
		}
	}
	return ""
}

// ElemType is the element type a weight dtype ("BF16") or a KV dtype
// ("bf16") names, spelled as a KVDType, and false for an unknown one:
// kernels keyed by element type take either.
func ElemType(dt string) (KVDType, bool) {
	for _, d := range dtypes[:] {
		if string(d.kv) == dt || d.weight == dt {
			return d.kv, true
		}
	}
	return "", false
}

// WeightDTypeSize is the element size of a weight dtype (BF16, F16, F32),
// 0 if unsupported: what every backend's LoadWeights accepts.
func WeightDTypeSize(dt string) int {
	for _, d := range dtypes[:] {
		if d.weight == dt {
			return d.size
		}
	}
	return 0
}
