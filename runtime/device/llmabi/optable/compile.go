package optable

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Layout is an op compiled for the code that decodes, validates and
// dispatches its calls: its repeated group expanded into Group slots
// ("outs[0]", "outs[1]", …), its shapes and rules parsed, its symbols
// numbered, and its wire words listed in order.
type Layout struct {
	*Op
	Weights  []WeightSlot  // in call order, groups expanded: llmabi.Call.W
	Operands []OperandSlot // in call order, groups expanded: llmabi.Call.S
	Ints     []ScalarSlot  // the Count and Index scalars, in order: llmabi.Call.I
	F32      string        // the NonNeg scalar's name, "" if none: llmabi.Call.F
	DType    string        // the KVDType scalar's name, "" if none: llmabi.Call.KV
	Syms     []Sym         // the values shapes and rules speak of
	Rules    []Rule
	Wire     []Param // the call's wire words, in order
}

// WeightSlot is one weight argument of a call.
type WeightSlot struct {
	Name string // "table", or "weights[1]" for a slot of the group
	Slot int    // the group slot, -1 outside the group
	Dims []int  // the symbol of each dimension
	Bind []bool // whether this weight is where that symbol gets its value
}

// OperandSlot is one operand of a call.
type OperandSlot struct {
	Name  string
	Role  Role
	Elem  Elem
	Slot  int   // the group slot, -1 outside the group
	Dims  []Dim // the shape
	Infer bool  // Dims[0] is read from the span's length (a KV cache's rows)
	Alias int   // the operand this one may equal exactly, -1 for none
}

// ScalarSlot is one integer scalar.
type ScalarSlot struct {
	Name string
	Kind ScalarKind // Count or Index
	Sym  int
}

// Dim is one dimension of an operand: symbol Sym's value divided by Div.
type Dim struct {
	Sym int
	Div uint64
}

// Sym is a named value a call's shapes and rules use: a scalar, a weight's
// dimension or a cache's rows.
type Sym struct {
	Name string
	From string // where its value comes from, for errors: "scalar", "weight", "operand"
}

// Rule is one parsed Op.Rules entry.
type Rule struct {
	Kind    RuleKind
	A, B, C int    // symbols (weights for SameDType); B is -1 for a constant
	Const   uint64 // Divides: the constant divisor when B is -1
	Late    bool   // it speaks of a value read from an operand: check it after them
	Text    string // as written in the table
}

// RuleKind is the form of a Rule.
type RuleKind uint8

// The rule forms.
const (
	Divides   RuleKind = iota // A % B == 0 (or A % Const == 0)
	AtLeast                   // A >= B + C
	SameDType                 // dtype(A) == dtype(B), A and B weight slots
)

// Param is one word of a call on the wire.
type Param struct {
	Kind  ParamKind
	Index int    // the weight, operand or int scalar it carries
	Name  string // snake_case, as in the host ABI's docs
}

// ParamKind is what a wire word carries.
type ParamKind uint8

// The wire word kinds. Every word is an i32 on the Wasm stack except F32.
const (
	PWeight ParamKind = iota // a tensor id (int32)
	PCount                   // the repeated group's count
	PPtr                     // an operand's offset
	PLen                     // an operand's length in bytes
	PInt                     // an integer scalar
	PF32                     // the f32 scalar (an f32 on the Wasm stack)
	PDType                   // the KV dtype code
)

// Compile compiles every op of the table and checks the table: unique codes,
// names and methods; shapes and rules that parse and name known values.
func Compile(ops []Op) ([]*Layout, error) {
	var out []*Layout
	var errs []error
	seen := map[string]bool{}
	codes := map[uint8]bool{}
	for i := range ops {
		op := &ops[i]
		if codes[op.Code] || seen[op.Name] || seen[op.Method] {
			errs = append(errs, fmt.Errorf("op %d (%s): code, name or method used twice", i, op.Name))
		}
		codes[op.Code], seen[op.Name], seen[op.Method] = true, true, true
		l, err := compile(op)
		if err != nil {
			errs = append(errs, fmt.Errorf("op %s: %w", op.Name, err))
			continue
		}
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}

// scope resolves names to symbols: global ones, and per-slot ones bound by
// a repeated weight or operand.
type scope struct {
	l      *Layout
	global map[string]int
	slot   []map[string]int
}

func (s *scope) lookup(name string, slot int) (int, bool) {
	if slot >= 0 {
		if v, ok := s.slot[slot][name]; ok {
			return v, true
		}
	}
	v, ok := s.global[name]
	return v, ok
}

func (s *scope) bind(name, from string, slot int) int {
	id := len(s.l.Syms)
	if slot >= 0 {
		s.l.Syms = append(s.l.Syms, Sym{Name: fmt.Sprintf("%s[%d]", name, slot), From: from})
		s.slot[slot][name] = id
	} else {
		s.l.Syms = append(s.l.Syms, Sym{Name: name, From: from})
		s.global[name] = id
	}
	return id
}

func compile(op *Op) (*Layout, error) {
	l := &Layout{Op: op}
	s := &scope{l: l, global: map[string]int{}, slot: make([]map[string]int, op.Group)}
	for i := range s.slot {
		s.slot[i] = map[string]int{}
	}
	if !isIdent(op.Name, true) || !isIdent(op.Method, false) {
		return nil, fmt.Errorf("name %q or method %q is not an identifier", op.Name, op.Method)
	}
	if op.Doc == "" {
		return nil, errors.New("no doc")
	}
	// Scalars first: shapes may name them.
	names := map[string]bool{}
	for _, sc := range op.Scalars {
		if !isIdent(sc.Name, false) || names[sc.Name] {
			return nil, fmt.Errorf("scalar %q: not an identifier, or used twice", sc.Name)
		}
		names[sc.Name] = true
		switch sc.Kind {
		case Count, Index:
			l.Ints = append(l.Ints, ScalarSlot{Name: sc.Name, Kind: sc.Kind, Sym: s.bind(sc.Name, "scalar", -1)})
		case NonNeg:
			if l.F32 != "" {
				return nil, errors.New("more than one f32 scalar")
			}
			l.F32 = sc.Name
		case KVDType:
			if l.DType != "" {
				return nil, errors.New("more than one KV dtype scalar")
			}
			l.DType = sc.Name
		}
	}
	repeats := 0
	for _, w := range op.Weights {
		if !isIdent(w.Name, false) || names[w.Name] {
			return nil, fmt.Errorf("weight %q: not an identifier, or used twice", w.Name)
		}
		names[w.Name] = true
		if w.Repeat && op.Group == 0 {
			return nil, fmt.Errorf("weight %s repeats in an op without a group", w.Name)
		}
		for slot := range slots(op, w.Repeat) {
			ws := WeightSlot{Name: slotName(w.Name, slot), Slot: slot}
			for _, d := range splitShape(w.Shape) {
				if !isIdent(d, false) {
					return nil, fmt.Errorf("weight %s: dimension %q is not a name", w.Name, d)
				}
				id, ok := s.lookup(d, slot)
				if !ok {
					id = s.bind(d, "weight", slot)
				}
				ws.Dims, ws.Bind = append(ws.Dims, id), append(ws.Bind, !ok)
			}
			if len(ws.Dims) == 0 {
				return nil, fmt.Errorf("weight %s has no shape", w.Name)
			}
			l.Weights = append(l.Weights, ws)
		}
		if w.Repeat {
			repeats++
		}
	}
	for _, o := range op.Operands {
		if !isIdent(o.Name, false) || names[o.Name] {
			return nil, fmt.Errorf("operand %q: not an identifier, or used twice", o.Name)
		}
		names[o.Name] = true
		if o.Elem == KV && l.DType == "" {
			return nil, fmt.Errorf("operand %s holds KV elements but the op has no KV dtype scalar", o.Name)
		}
		if o.Repeat && op.Group == 0 {
			return nil, fmt.Errorf("operand %s repeats in an op without a group", o.Name)
		}
		for slot := range slots(op, o.Repeat) {
			os := OperandSlot{Name: slotName(o.Name, slot), Role: o.Role, Elem: o.Elem, Slot: slot, Alias: -1}
			for i, d := range splitShape(o.Shape) {
				name, div, err := parseDim(d)
				if err != nil {
					return nil, fmt.Errorf("operand %s: %w", o.Name, err)
				}
				id, ok := s.lookup(name, slot)
				if !ok {
					if i != 0 || div != 1 {
						return nil, fmt.Errorf("operand %s: %q names no scalar or weight dimension", o.Name, d)
					}
					id, os.Infer = s.bind(name, "operand", slot), true
				}
				os.Dims = append(os.Dims, Dim{Sym: id, Div: div})
			}
			if len(os.Dims) == 0 {
				return nil, fmt.Errorf("operand %s has no shape", o.Name)
			}
			l.Operands = append(l.Operands, os)
		}
		if o.Repeat {
			repeats++
		}
	}
	if (op.Group > 0) != (repeats > 0) || op.Group > 8 {
		return nil, fmt.Errorf("group of %d slots with %d repeated arguments", op.Group, repeats)
	}
	for _, o := range op.Operands {
		if o.Alias == "" {
			continue
		}
		self, a := l.operand(o.Name), l.operand(o.Alias)
		if self < 0 || a < 0 || !o.Role.Writes() || l.Operands[a].Role.Writes() {
			return nil, fmt.Errorf("operand %s: alias %q is not a read-only operand outside the group", o.Name, o.Alias)
		}
		l.Operands[self].Alias = a
	}
	for _, text := range op.Rules {
		r, err := s.parseRule(text)
		if err != nil {
			return nil, err
		}
		l.Rules = append(l.Rules, r)
	}
	l.Wire = wire(l)
	return l, nil
}

// operand returns the slot index of the operand named name (outside the group).
func (l *Layout) operand(name string) int {
	for i, o := range l.Operands {
		if o.Name == name {
			return i
		}
	}
	return -1
}

// weight returns the slot index of the weight named name (outside the group).
func (l *Layout) weight(name string) int {
	for i, w := range l.Weights {
		if w.Name == name {
			return i
		}
	}
	return -1
}

// slots yields the group slots of an argument: 0..Group-1 if it repeats,
// else just -1.
func slots(op *Op, repeat bool) func(func(int) bool) {
	return func(yield func(int) bool) {
		if !repeat {
			yield(-1)
			return
		}
		for i := range op.Group {
			if !yield(i) {
				return
			}
		}
	}
}

func slotName(name string, slot int) string {
	if slot < 0 {
		return name
	}
	return fmt.Sprintf("%s[%d]", name, slot)
}

func splitShape(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseDim reads "name" or "name/k".
func parseDim(d string) (string, uint64, error) {
	name, div, found := strings.Cut(d, "/")
	name = strings.TrimSpace(name)
	if !isIdent(name, false) {
		return "", 0, fmt.Errorf("dimension %q is not a name or name/number", d)
	}
	if !found {
		return name, 1, nil
	}
	k, err := strconv.ParseUint(strings.TrimSpace(div), 10, 8)
	if err != nil || k < 2 {
		return "", 0, fmt.Errorf("dimension %q: divisor is not a number from 2 to 255", d)
	}
	return name, k, nil
}

// parseRule reads one of the forms documented at Op.Rules.
func (s *scope) parseRule(text string) (Rule, error) {
	r := Rule{Text: text, B: -1, C: -1}
	f := strings.Fields(text)
	sym := func(name string) (int, error) {
		id, ok := s.lookup(name, -1)
		if !ok {
			return 0, fmt.Errorf("rule %q: %q names no scalar or dimension", text, name)
		}
		if s.l.Syms[id].From == "operand" {
			r.Late = true
		}
		return id, nil
	}
	var err error
	switch {
	case len(f) == 5 && f[1] == "%" && f[3] == "==" && f[4] == "0":
		r.Kind = Divides
		if r.A, err = sym(f[0]); err != nil {
			return r, err
		}
		if k, perr := strconv.ParseUint(f[2], 10, 32); perr == nil && k > 0 {
			r.Const = k
		} else if r.B, err = sym(f[2]); err != nil {
			return r, err
		}
	case len(f) == 5 && f[1] == ">=" && f[3] == "+":
		r.Kind = AtLeast
		for i, p := range []*int{&r.A, &r.B, &r.C} {
			if *p, err = sym(f[2*i]); err != nil {
				return r, err
			}
		}
	case len(f) == 3 && f[1] == "==" && strings.HasPrefix(f[0], "dtype(") && strings.HasPrefix(f[2], "dtype("):
		r.Kind = SameDType
		a := s.l.weight(strings.TrimSuffix(strings.TrimPrefix(f[0], "dtype("), ")"))
		b := s.l.weight(strings.TrimSuffix(strings.TrimPrefix(f[2], "dtype("), ")"))
		if a < 0 || b < 0 {
			return r, fmt.Errorf("rule %q: dtype() takes a weight outside the group", text)
		}
		r.A, r.B = a, b
	default:
		return r, fmt.Errorf("rule %q is not one of the forms Op.Rules lists", text)
	}
	return r, nil
}

// wire lists a call's words: weights (the group's count before its first
// repeated weight), operands as (ptr, len), scalars.
func wire(l *Layout) []Param {
	var ps []Param
	counted := false
	for i, w := range l.Weights {
		if w.Slot >= 0 && !counted {
			ps, counted = append(ps, Param{Kind: PCount, Name: "count"}), true
		}
		ps = append(ps, Param{Kind: PWeight, Index: i, Name: flat(w.Name)})
	}
	for i, o := range l.Operands {
		ps = append(ps, Param{Kind: PPtr, Index: i, Name: flat(o.Name)}, Param{Kind: PLen, Index: i, Name: flat(o.Name) + "_len"})
	}
	k := 0
	for _, sc := range l.Op.Scalars {
		switch sc.Kind {
		case Count, Index:
			ps = append(ps, Param{Kind: PInt, Index: k, Name: snake(sc.Name)})
			k++
		case NonNeg:
			ps = append(ps, Param{Kind: PF32, Name: snake(sc.Name)})
		case KVDType:
			ps = append(ps, Param{Kind: PDType, Name: snake(sc.Name)})
		}
	}
	return ps
}

// flat spells a slot name for the wire: "outs[1]" is "outs1", in snake_case.
func flat(name string) string {
	return snake(strings.NewReplacer("[", "", "]", "").Replace(name))
}

// snake turns camelCase into snake_case: "kvHeads" is "kv_heads".
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isIdent reports whether s is a Go identifier (lower: an ASCII lower-case
// snake name, as op names are).
func isIdent(s string, lower bool) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' && lower:
		case r >= 'a' && r <= 'z':
		case !lower && (r >= 'A' && r <= 'Z' || r == '_'):
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}
