//go:build darwin

package metal

import (
	"fmt"
	"sync"

	"github.com/ebitengine/purego"
	"github.com/ebitengine/purego/objc"

	"github.com/wasmgpu/wasmgpu/runtime/device"
)

// frameworks_darwin.go loads the system libraries once per process: the
// Objective-C runtime (for typed objc_msgSend and autorelease pools),
// Foundation, Metal, CoreGraphics (MTLCreateSystemDefaultDevice needs a window
// server connection on some macOS versions, which CoreGraphics provides) and
// MetalPerformanceShaders. Loading a framework registers its classes with the
// runtime; objc.GetClass finds nothing before that.

// Framework and library paths. dlopen of these works even though the files
// are not on disk: since macOS 11 system libraries live in the dyld shared
// cache and dlopen resolves these paths there.
const (
	libObjC          = "/usr/lib/libobjc.A.dylib"
	foundationPath   = "/System/Library/Frameworks/Foundation.framework/Foundation"
	metalPath        = "/System/Library/Frameworks/Metal.framework/Metal"
	coreGraphicsPath = "/System/Library/Frameworks/CoreGraphics.framework/CoreGraphics"
	mpsFrameworkPath = "/System/Library/Frameworks/MetalPerformanceShaders.framework/MetalPerformanceShaders"
	dlopenFlags      = purego.RTLD_NOW | purego.RTLD_GLOBAL
)

// Constants from the Foundation, Metal and MPS SDK headers, which a cgo-free
// build cannot include (values checked against published copies of
// MPSCoreTypes.h, MTLResource.h, MTLCommandBuffer.h and NSString.h).
const (
	nsUTF8Encoding      = 4 // NSUTF8StringEncoding
	mtlStorageShared    = 0 // MTLResourceStorageModeShared (0 << MTLResourceStorageModeShift), default CPU cache mode
	mtlCBStatusDone     = 4 // MTLCommandBufferStatusCompleted
	mpsDataTypeFloatBit = 0x10000000
	mpsDataTypeFloat32  = mpsDataTypeFloatBit | 32 // MPSDataTypeFloat32 = MPSDataTypeFloatBit | 32
)

// mtlLanguageVersion returns MTLLanguageVersionMAJOR_MINOR, defined by Metal
// as (major << 16) + minor: MTLLanguageVersion2_4 = 0x20004,
// MTLLanguageVersion3_0 = 0x30000.
func mtlLanguageVersion(major, minor uint) uint { return major<<16 + minor }

// classes are the Objective-C classes the backend instantiates or messages.
type classes struct {
	nsString, nsProcessInfo                                 objc.Class
	mtlCompileOptions                                       objc.Class
	mpsMatrixDescriptor, mpsMatrix, mpsMatrixMultiplication objc.Class
}

// runtimeLib is everything loaded once per process.
type runtimeLib struct {
	cls classes
	// createSystemDefaultDevice is MTLCreateSystemDefaultDevice; the device
	// it returns is owned by the caller (the Create rule).
	createSystemDefaultDevice func() objc.ID
	// mpsSupportsDevice is MPSSupportsMTLDevice.
	mpsSupportsDevice func(objc.ID) bool
	// poolPush and poolPop are objc_autoreleasePoolPush/Pop: the cheap form
	// of NSAutoreleasePool alloc/init … drain.
	poolPush func() uintptr
	poolPop  func(uintptr)
}

var (
	rtOnce sync.Once
	rt     runtimeLib
	rtErr  error
)

// loadRuntime loads the libraries, symbols, classes, selectors and typed
// message senders once; later calls return the first call's result.
func loadRuntime() error {
	rtOnce.Do(func() { rtErr = loadRuntimeOnce() })
	return rtErr
}

func loadRuntimeOnce() error {
	libobjc, err := purego.Dlopen(libObjC, dlopenFlags)
	if err != nil {
		return fmt.Errorf("metal: dlopen %s: %v: %w", libObjC, err, device.ErrNoDevice)
	}
	handles := map[string]uintptr{}
	for _, p := range []string{foundationPath, coreGraphicsPath, metalPath, mpsFrameworkPath} {
		h, err := purego.Dlopen(p, dlopenFlags)
		if err != nil {
			return fmt.Errorf("metal: dlopen %s: %v: %w", p, err, device.ErrNoDevice)
		}
		handles[p] = h
	}
	sym := func(h uintptr, lib, name string, fptr any) error {
		addr, err := purego.Dlsym(h, name)
		if err != nil || addr == 0 {
			return fmt.Errorf("metal: %s not found in %s: %v: %w", name, lib, err, device.ErrNoDevice)
		}
		purego.RegisterFunc(fptr, addr)
		return nil
	}
	if err := sym(handles[metalPath], metalPath, "MTLCreateSystemDefaultDevice", &rt.createSystemDefaultDevice); err != nil {
		return err
	}
	if err := sym(handles[mpsFrameworkPath], mpsFrameworkPath, "MPSSupportsMTLDevice", &rt.mpsSupportsDevice); err != nil {
		return err
	}
	if err := sym(libobjc, libObjC, "objc_autoreleasePoolPush", &rt.poolPush); err != nil {
		return err
	}
	if err := sym(libobjc, libObjC, "objc_autoreleasePoolPop", &rt.poolPop); err != nil {
		return err
	}
	msgSend, err := purego.Dlsym(libobjc, "objc_msgSend")
	if err != nil || msgSend == 0 {
		return fmt.Errorf("metal: objc_msgSend not found in %s: %v", libObjC, err)
	}
	registerMsg(msgSend)
	registerSelectors()

	for _, c := range []struct {
		dst  *objc.Class
		name string
	}{
		{&rt.cls.nsString, "NSString"},
		{&rt.cls.nsProcessInfo, "NSProcessInfo"},
		{&rt.cls.mtlCompileOptions, "MTLCompileOptions"},
		{&rt.cls.mpsMatrixDescriptor, "MPSMatrixDescriptor"},
		{&rt.cls.mpsMatrix, "MPSMatrix"},
		{&rt.cls.mpsMatrixMultiplication, "MPSMatrixMultiplication"},
	} {
		if *c.dst = objc.GetClass(c.name); *c.dst == 0 {
			return fmt.Errorf("metal: Objective-C class %s not registered after loading the frameworks: %w", c.name, device.ErrNoDevice)
		}
	}
	return nil
}
