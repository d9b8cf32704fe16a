//go:build darwin

package metal

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/ebitengine/purego/objc"
)

// llm_objc_darwin.go registers the few message shapes and selectors only the
// LLM ops use, once, on top of loadRuntime's (objc_darwin.go keeps the ones
// every kernel call shares).

// llmMsg holds the LLM ops' typed objc_msgSend entry points.
var llmMsg struct {
	// -newBufferWithBytes:length:options: (copies the bytes during the call)
	newBufferWithBytes func(objc.ID, objc.SEL, unsafe.Pointer, uint, uint) objc.ID
	// -setFastMathEnabled: (BOOL)
	vBool func(objc.ID, objc.SEL, bool)
}

// llmSel holds the LLM ops' selectors.
var llmSel struct {
	retain, newBufferWithBytes, setFastMathEnabled objc.SEL
}

var (
	llmRTOnce sync.Once
	llmRTErr  error
)

// loadLLMRuntime registers llmMsg and llmSel once; loadRuntime must have
// succeeded (Open guarantees it).
func loadLLMRuntime() error {
	llmRTOnce.Do(func() {
		lib, err := purego.Dlopen(libObjC, dlopenFlags)
		if err != nil {
			llmRTErr = fmt.Errorf("metal: dlopen %s: %v", libObjC, err)
			return
		}
		msgSend, err := purego.Dlsym(lib, "objc_msgSend")
		if err != nil || msgSend == 0 {
			llmRTErr = fmt.Errorf("metal: objc_msgSend not found in %s: %v", libObjC, err)
			return
		}
		purego.RegisterFunc(&llmMsg.newBufferWithBytes, msgSend)
		purego.RegisterFunc(&llmMsg.vBool, msgSend)
		llmSel.retain = objc.RegisterName("retain")
		llmSel.newBufferWithBytes = objc.RegisterName("newBufferWithBytes:length:options:")
		llmSel.setFastMathEnabled = objc.RegisterName("setFastMathEnabled:")
	})
	return llmRTErr
}

// retain sends -retain, making an autoreleased object ours until release.
func retain(o objc.ID) objc.ID {
	if o != 0 {
		msg.id(o, llmSel.retain)
	}
	return o
}
