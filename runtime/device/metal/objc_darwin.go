//go:build darwin

package metal

import (
	"fmt"
	"structs"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/ebitengine/purego/objc"
)

// objc_darwin.go holds the typed objc_msgSend entry points and the selectors.
//
// objc.ID.Send and objc.Send[T] build a reflect-based trampoline on every call
// (purego.RegisterFunc), which is slow and only handles uintptr-sized results
// well. Instead each call shape used here is registered once, as a Go function
// type whose parameters match the method's C signature exactly: purego places
// arguments by their Go types (integers and pointers in x0–x7, doubles in
// d0–d7, structs larger than 16 bytes by reference), and reads the result by
// the declared return type (bool reads only the low byte, as BOOL requires).
// On arm64 there is a single objc_msgSend for every return type, including
// structs returned in memory, so no _stret variant is needed.

// mtlSize mirrors MTLSize {NSUInteger width, height, depth}: 24 bytes, so the
// arm64 ABI passes it by reference to a caller-made copy, which purego does.
type mtlSize struct {
	_                    structs.HostLayout
	Width, Height, Depth uint
}

// msg holds the typed message senders, set once by registerMsg. The name says
// the shape: the result (id, u = NSUInteger, b = BOOL, f = double, p = void*,
// v = void) then the arguments.
var msg struct {
	id   func(objc.ID, objc.SEL) objc.ID
	u    func(objc.ID, objc.SEL) uint
	b    func(objc.ID, objc.SEL) bool
	f    func(objc.ID, objc.SEL) float64
	p    func(objc.ID, objc.SEL) unsafe.Pointer
	str  func(objc.ID, objc.SEL) string // for -UTF8String: purego copies the C string
	v    func(objc.ID, objc.SEL)
	vU   func(objc.ID, objc.SEL, uint)
	vID  func(objc.ID, objc.SEL, objc.ID)
	idID func(objc.ID, objc.SEL, objc.ID) objc.ID
	// -newComputePipelineStateWithFunction:error:
	idIDErr func(objc.ID, objc.SEL, objc.ID, *objc.ID) objc.ID
	// -newLibraryWithSource:options:error:
	idIDIDErr func(objc.ID, objc.SEL, objc.ID, objc.ID, *objc.ID) objc.ID
	// -initWithBytes:length:encoding:
	initBytes func(objc.ID, objc.SEL, unsafe.Pointer, uint, uint) objc.ID
	// -newBufferWithBytesNoCopy:length:options:deallocator: (deallocator: a block pointer, nil here)
	newNoCopy func(objc.ID, objc.SEL, unsafe.Pointer, uint, uint, uintptr) objc.ID
	// -newBufferWithLength:options:
	newBuffer func(objc.ID, objc.SEL, uint, uint) objc.ID
	// +matrixDescriptorWithRows:columns:rowBytes:dataType: (MPSDataType is uint32_t)
	matrixDesc func(objc.ID, objc.SEL, uint, uint, uint, uint32) objc.ID
	// -initWithBuffer:offset:descriptor:
	matrixInit func(objc.ID, objc.SEL, objc.ID, uint, objc.ID) objc.ID
	// -initWithDevice:transposeLeft:transposeRight:resultRows:resultColumns:interiorColumns:alpha:beta:
	gemmInit func(objc.ID, objc.SEL, objc.ID, bool, bool, uint, uint, uint, float64, float64) objc.ID
	// -encodeToCommandBuffer:leftMatrix:rightMatrix:resultMatrix:
	gemmEncode func(objc.ID, objc.SEL, objc.ID, objc.ID, objc.ID, objc.ID)
	// -setBuffer:offset:atIndex:
	setBuffer func(objc.ID, objc.SEL, objc.ID, uint, uint)
	// -setBytes:length:atIndex:
	setBytes func(objc.ID, objc.SEL, unsafe.Pointer, uint, uint)
	// -dispatchThreadgroups:threadsPerThreadgroup:
	dispatch func(objc.ID, objc.SEL, mtlSize, mtlSize)
}

// registerMsg binds every typed sender to objc_msgSend.
func registerMsg(msgSend uintptr) {
	for _, f := range []any{
		&msg.id, &msg.u, &msg.b, &msg.f, &msg.p, &msg.str, &msg.v, &msg.vU, &msg.vID,
		&msg.idID, &msg.idIDErr, &msg.idIDIDErr, &msg.initBytes, &msg.newNoCopy,
		&msg.newBuffer, &msg.matrixDesc, &msg.matrixInit, &msg.gemmInit,
		&msg.gemmEncode, &msg.setBuffer, &msg.setBytes, &msg.dispatch,
	} {
		purego.RegisterFunc(f, msgSend)
	}
}

// sel holds the selectors, registered once (sel_registerName takes the
// runtime's global lock).
var sel struct {
	alloc, init, release                                    objc.SEL
	utf8String, localizedDescription, code, domain          objc.SEL
	processInfo, operatingSystemVersionString               objc.SEL
	name, recommendedMaxWorkingSetSize, hasUnifiedMemory    objc.SEL
	maxBufferLength                                         objc.SEL
	newCommandQueue, commandBuffer, commit, waitUntilDone   objc.SEL
	status, error, gpuStartTime, gpuEndTime                 objc.SEL
	newBufferNoCopy, newBufferWithLength, contents          objc.SEL
	initWithBytes, setLanguageVersion, newLibraryWithSource objc.SEL
	newFunctionWithName, newPipelineWithFunction            objc.SEL
	maxTotalThreadsPerThreadgroup, threadExecutionWidth     objc.SEL
	computeCommandEncoder, setComputePipelineState          objc.SEL
	setBuffer, setBytes, dispatchThreadgroups, endEncoding  objc.SEL
	matrixDescriptor, initWithBufferOffsetDescriptor        objc.SEL
	initGemm, encodeGemm                                    objc.SEL
}

func registerSelectors() {
	for _, s := range []struct {
		dst  *objc.SEL
		name string
	}{
		{&sel.alloc, "alloc"},
		{&sel.init, "init"},
		{&sel.release, "release"},
		{&sel.utf8String, "UTF8String"},
		{&sel.localizedDescription, "localizedDescription"},
		{&sel.code, "code"},
		{&sel.domain, "domain"},
		{&sel.processInfo, "processInfo"},
		{&sel.operatingSystemVersionString, "operatingSystemVersionString"},
		{&sel.name, "name"},
		{&sel.recommendedMaxWorkingSetSize, "recommendedMaxWorkingSetSize"},
		{&sel.hasUnifiedMemory, "hasUnifiedMemory"},
		{&sel.maxBufferLength, "maxBufferLength"},
		{&sel.newCommandQueue, "newCommandQueue"},
		{&sel.commandBuffer, "commandBuffer"},
		{&sel.commit, "commit"},
		{&sel.waitUntilDone, "waitUntilCompleted"},
		{&sel.status, "status"},
		{&sel.error, "error"},
		{&sel.gpuStartTime, "GPUStartTime"},
		{&sel.gpuEndTime, "GPUEndTime"},
		{&sel.newBufferNoCopy, "newBufferWithBytesNoCopy:length:options:deallocator:"},
		{&sel.newBufferWithLength, "newBufferWithLength:options:"},
		{&sel.contents, "contents"},
		{&sel.initWithBytes, "initWithBytes:length:encoding:"},
		{&sel.setLanguageVersion, "setLanguageVersion:"},
		{&sel.newLibraryWithSource, "newLibraryWithSource:options:error:"},
		{&sel.newFunctionWithName, "newFunctionWithName:"},
		{&sel.newPipelineWithFunction, "newComputePipelineStateWithFunction:error:"},
		{&sel.maxTotalThreadsPerThreadgroup, "maxTotalThreadsPerThreadgroup"},
		{&sel.threadExecutionWidth, "threadExecutionWidth"},
		{&sel.computeCommandEncoder, "computeCommandEncoder"},
		{&sel.setComputePipelineState, "setComputePipelineState:"},
		{&sel.setBuffer, "setBuffer:offset:atIndex:"},
		{&sel.setBytes, "setBytes:length:atIndex:"},
		{&sel.dispatchThreadgroups, "dispatchThreadgroups:threadsPerThreadgroup:"},
		{&sel.endEncoding, "endEncoding"},
		{&sel.matrixDescriptor, "matrixDescriptorWithRows:columns:rowBytes:dataType:"},
		{&sel.initWithBufferOffsetDescriptor, "initWithBuffer:offset:descriptor:"},
		{&sel.initGemm, "initWithDevice:transposeLeft:transposeRight:resultRows:resultColumns:interiorColumns:alpha:beta:"},
		{&sel.encodeGemm, "encodeToCommandBuffer:leftMatrix:rightMatrix:resultMatrix:"},
	} {
		*s.dst = objc.RegisterName(s.name)
	}
}

// release sends -release to an owned object; nil is ignored, as in Objective-C.
func release(o objc.ID) {
	if o != 0 {
		msg.v(o, sel.release)
	}
}

// alloc sends +alloc to a class; the result is owned (retain count 1) and is
// consumed by the -init… message sent to it next.
func alloc(c objc.Class) objc.ID { return msg.id(objc.ID(c), sel.alloc) }

// newNSString makes an owned NSString from s; the caller releases it.
func newNSString(s string) (objc.ID, error) {
	b := []byte(s)
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	// -initWithBytes:length:encoding: copies the bytes, so Go memory is
	// only read during the call (the cgo pointer rules).
	str := msg.initBytes(alloc(rt.cls.nsString), sel.initWithBytes, p, uint(len(b)), nsUTF8Encoding)
	if str == 0 {
		return 0, fmt.Errorf("NSString initWithBytes:length:encoding: returned nil for %d bytes (invalid UTF-8?)", len(b))
	}
	return str, nil
}

// goString copies an NSString into a Go string; nil gives "".
func goString(str objc.ID) string {
	if str == 0 {
		return ""
	}
	return msg.str(str, sel.utf8String)
}

// nsErrorText describes an NSError (not owned: errors come autoreleased) as
// "localizedDescription (domain code)".
func nsErrorText(e objc.ID) string {
	if e == 0 {
		return "no NSError given"
	}
	desc := goString(msg.id(e, sel.localizedDescription))
	domain := goString(msg.id(e, sel.domain))
	code := int64(msg.u(e, sel.code)) // NSInteger, read through the same register
	return fmt.Sprintf("%s (%s %d)", desc, domain, code)
}
