package optable

// Op is one Llama kernel: its entry in Ops says everything the host ABI, the
// device contract and the validator need to know about it.
type Op struct {
	// Code is the op's stable number: its first word in a call's wire
	// encoding (llmabi.Call.Encode) and its llm_raw index in the guest.
	// Codes never change meaning; a removed op leaves its code unused.
	Code uint8
	// Name is the op's wire name: the host import is "llm_" + Name.
	Name string
	// Method is the op's method in device.LLMOps.
	Method string
	// Doc is the method's doc comment, without the method name: "writes…".
	Doc string
	// Def is a fused op's definition, the basic ops it equals run in order
	// (runtime/device/internal/compose runs exactly that); empty for a
	// basic op.
	Def string
	// Batch is the op's batching class.
	Batch Batching
	// Work is how the op's arithmetic grows with its arguments, for the
	// sandbox's cap on the work one call may ask for (llmabi.Call.Work).
	Work Work
	// Weights are the weight tensors the op reads, by id, in argument order.
	Weights []Weight
	// Operands are the byte ranges of the caller's memory the op touches,
	// in argument order.
	Operands []Operand
	// Scalars are the op's other arguments, in argument order.
	Scalars []Scalar
	// Group is how many slots the op's repeated weights and operands have
	// (Repeat): a call passes a count from 1 to Group and fills that many.
	// Zero for an op without repeated arguments.
	Group int
	// Rules are constraints between scalars and shapes beyond what the
	// shapes say, in the forms Compile reads:
	//
	//	"a % b == 0"         b divides a (b a symbol or a number)
	//	"a >= b + c"         a is at least b + c
	//	"dtype(x) == dtype(y)" weights x and y have the same element type
	Rules []string
}

// Weight is a weight tensor argument: a tensor id into the weights bound
// to the caller.
type Weight struct {
	Name string
	// Shape names the tensor's dimensions, comma-separated: its rank is
	// their number. A name seen before (a scalar, or another weight's
	// dimension) must equal it; a new name binds the dimension for the
	// shapes that follow.
	Shape string
	// Repeat marks a weight of the op's repeated group (Op.Group).
	Repeat bool
}

// Operand is a byte range of the caller's memory: a (ptr, len) pair on the
// wire, a device.Span in the contract.
type Operand struct {
	Name string
	Role Role
	Elem Elem
	// Shape is the operand's dimensions, comma-separated, row-major: each a
	// symbol (a scalar or a weight's dimension) or a symbol divided by a
	// number ("headDim/2"). The span must hold exactly their product of
	// elements. A new name as the first dimension is read from the span's
	// length instead (a KV cache's rows: "seq, width"): the span must hold
	// a whole, positive number of rows.
	Shape string
	// Alias names an operand this one may equal exactly (an op in place:
	// rmsnorm's out may be its x). Partial overlap is never allowed.
	Alias string
	// Repeat marks an operand of the op's repeated group (Op.Group).
	Repeat bool
}

// Role says how an op uses an operand, and so which overlaps are hazards:
// every operand an op writes (Out, InOut, Scratch) must be disjoint from
// every other operand but its Alias; operands it only reads may overlap.
type Role uint8

// The roles.
const (
	In      Role = iota // read
	Out                 // written
	InOut               // read, then written in place
	Scratch             // working space: written, contents undefined afterwards
)

var roleNames = [...]string{"in", "out", "in-out", "scratch"}

func (r Role) String() string { return roleNames[r] }

// Writes reports whether the op may write the operand.
func (r Role) Writes() bool { return r != In }

// Elem is an operand's element type.
type Elem uint8

// The element types.
const (
	F32 Elem = iota // float32
	I32             // int32: token ids, argmax indices
	KV              // the call's KV cache dtype (its DType scalar): f32, bf16 or f16
)

var elemNames = [...]string{"f32", "i32", "kv"}

func (e Elem) String() string { return elemNames[e] }

// Scalar is an argument that is neither a weight nor an operand.
type Scalar struct {
	Name string
	Kind ScalarKind
}

// ScalarKind is a scalar's type and range.
type ScalarKind uint8

// The scalar kinds. On the wire each is one 32-bit word.
const (
	Count   ScalarKind = iota // u32 in [1, 2^31): a count or a dimension
	Index                     // u32 in [0, 2^31): a position
	NonNeg                    // f32, a non-negative number (not NaN)
	KVDType                   // the KV cache dtype, by code (device.KVDTypes)
)

var kindNames = [...]string{"count", "index", "f32", "kv dtype"}

func (k ScalarKind) String() string { return kindNames[k] }

// Batching says how calls of one op from many guests could run together
// (issue 16: a host scheduler batching tenants).
type Batching uint8

// The batching classes.
const (
	// RowWise ops treat each of their n rows (or count elements) alike and
	// independently, with weights shared by all callers: the rows of N
	// guests' calls can be gathered into one call over N·n rows.
	RowWise Batching = iota
	// PerSequence ops depend on the caller's position and its own KV
	// cache: they run once per guest.
	PerSequence
	// Barrier is sync: it orders the caller's queue and moves no data.
	Barrier
)

var batchNames = [...]string{"row-wise", "per-sequence", "barrier"}

func (b Batching) String() string { return batchNames[b] }

// Work says how an op's multiply-adds follow from its arguments. Most ops do
// work in proportion to the bytes of their operands, which already fit the
// caller's memory; the others can ask for far more than their operands hold.
type Work uint8

// The work classes.
const (
	// Bytes: work in proportion to the operands' bytes (no separate cap).
	Bytes Work = iota
	// Projections: n rows times every matrix weight the call names (n·rows·cols
	// each; the n scalar).
	Projections
	// Attention: every query row against every cached row up to its position,
	// for scores and values: 2·n·(pos+n)·heads·headDim.
	Attention
)
