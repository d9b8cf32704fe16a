package wasm

import (
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

var errNoExport = errors.New("guest exports no such function")

// export returns the guest's export name, keeping one api.Function per
// export: wazero's ExportedFunction makes a new call engine, with its own
// stack, every time it is asked. callMu must be held.
func (g *Guest) export(name string) (api.Function, error) {
	if f, ok := g.funcs[name]; ok {
		return f, nil
	}
	f := g.mod.ExportedFunction(name)
	if f == nil {
		return nil, errNoExport
	}
	if g.funcs == nil {
		g.funcs = map[string]api.Function{}
	}
	g.funcs[name] = f
	return f, nil
}

// Prepare readies the named exports for Call, so that their first call does
// not pay for making their call engine: 20–70 µs each on the 2-core VM,
// measured on the first llm_resume of a fresh guest, which a restore's clock
// would otherwise count. A session prepares what it will call on its hot
// paths at instantiation.
func (g *Guest) Prepare(names ...string) error {
	g.callMu.Lock()
	defer g.callMu.Unlock()
	if g.closed || g.mod == nil || g.mod.IsClosed() {
		return fmt.Errorf("prepare: %w", g.closedErr())
	}
	for _, name := range names {
		if _, err := g.export(name); err != nil {
			return fmt.Errorf("prepare %s: %w", name, err)
		}
	}
	return nil
}

// llmHotExports are the exports the LLM* methods call per token or per
// restore.
var llmHotExports = []string{"llm_resume", "llm_decode", "llm_prefill", "llm_tokens_buf", "llm_reset", "llm_pos"}

// LLMPrepare readies the exports the LLM* methods call per token or per
// restore (Prepare), so that neither a restore nor the first decode after
// it pays for making their call engines.
func (g *Guest) LLMPrepare() error { return g.Prepare(llmHotExports...) }
