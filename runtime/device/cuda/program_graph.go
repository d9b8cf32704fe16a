package cuda

import (
	"fmt"
	"unsafe"
)

// Recording a program into a CUDA graph by stream capture, and launching
// it. What CUDA allows while a stream captures, and how this file keeps to
// it:
//
//   - Work queued on the capturing stream is recorded, not run; a
//     synchronization of that stream, or a call the capture mode deems
//     unsafe from this thread (cuMemAlloc and friends, which may
//     synchronize), invalidates the capture. Mode THREAD_LOCAL: only this
//     thread is held to that, and the goroutine stays locked to it from
//     begin to end. The program's first run at these baked words has
//     already grown every scratch buffer to size, and while capturing
//     growLLMBuf and flushArgmax refuse instead of allocating or waiting.
//   - A copy from page-locked host memory is captured as a memcpy node that
//     reads the host buffer when the graph runs: the parameter block.
//   - Launches with the programmatic-stream-serialization attribute
//     (llm_pdl.go) are captured as programmatic dependencies between kernel
//     nodes (CUDA 12.3 and later), so the overlap of one kernel's tail with
//     the next one's launch that PDL buys survives in the graph; each kernel
//     still waits (griddepcontrol.wait) for its predecessor's results. If
//     the driver refuses such a graph, the program records it again
//     without PDL (Props "program_graph_pdl" says which).
//   - Kernel arguments are copied into the graph at capture, so reusing
//     the Memory's argument block is safe; the addresses they hold (the
//     linear memory, the weights, the program's own buffers and parameter
//     block) must not move while the graph exists, which is why a program
//     owns its scratch buffers.

// CUDA stream capture modes (cuda.h, CUstreamCaptureMode).
const streamCaptureModeThreadLocal = 1

// graphExec is one instantiated graph of a program.
type graphExec struct {
	exec    uintptr // CUgraphExec
	kernels int     // kernel launches it holds
}

// record captures the program's ops at the current baked words into a
// graph and instantiates it, first with programmatic dependent launch
// where the Memory uses it, then, if that fails, without.
func (p *Program) record() (*graphExec, error) {
	m := p.m
	if err := m.Sync(); err != nil { // the eager run done and its argmax landed: nothing pending
		return nil, err
	}
	g, err := p.capture()
	if err != nil && m.llm.pdl {
		m.llm.pdl = false
		g, err = p.capture()
		m.llm.pdl = true
		if err == nil {
			p.pdl = false
			m.d.setProp("program_graph_pdl", "false (the driver refused a graph with programmatic dependencies)")
		}
	} else if err == nil {
		p.pdl = m.llm.pdl
		m.d.setProp("program_graph_pdl", fmt.Sprint(p.pdl))
	}
	if err != nil {
		return nil, err
	}
	p.stats.Recorded++
	p.stats.KernelsPerGraph = g.kernels
	return g, nil
}

// capture records one graph of the program. The Memory's counters and
// managed-mode pending argmax are as before it: nothing ran.
func (p *Program) capture() (*graphExec, error) {
	m := p.m
	launches := m.stats.KernelsLaunch
	mm := &m.llm.managed
	pendOff, pendN, pendSrc := mm.pendOff, mm.pendN, mm.pendSrc
	defer func() {
		m.stats.KernelsLaunch = launches
		mm.pendOff, mm.pendN, mm.pendSrc = pendOff, pendN, pendSrc
	}()
	return m.captureGraph(func() error { return p.queue(true) })
}

// captureGraph records what queue queues on the Memory's stream into a
// graph and instantiates it. queue must neither wait for the stream nor
// allocate (see above).
func (m *Memory) captureGraph(queue func() error) (*graphExec, error) {
	d := m.d
	if !d.drv.hasGraphs() {
		return nil, fmt.Errorf("the driver (%s) has no CUDA graph entry points", d.drv.path)
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	launches := m.stats.KernelsLaunch
	if err := d.drv.check("cuStreamBeginCapture", call(d.drv.cuStreamBeginCapture, m.stream, streamCaptureModeThreadLocal)); err != nil {
		return nil, err
	}
	qerr := queue()
	var graph uintptr
	eerr := d.drv.check("cuStreamEndCapture", call(d.drv.cuStreamEndCapture, m.stream, uintptr(unsafe.Pointer(&graph))))
	if qerr != nil || eerr != nil {
		if graph != 0 {
			call(d.drv.cuGraphDestroy, graph)
		}
		if qerr != nil {
			return nil, qerr
		}
		return nil, eerr
	}
	g := &graphExec{kernels: int(m.stats.KernelsLaunch - launches)}
	err := d.drv.check("cuGraphInstantiateWithFlags", call(d.drv.cuGraphInstantiateWithFlags, uintptr(unsafe.Pointer(&g.exec)), graph, 0))
	derr := d.drv.check("cuGraphDestroy", call(d.drv.cuGraphDestroy, graph)) // the exec keeps what it needs
	if err != nil {
		return nil, err
	}
	if derr != nil {
		call(d.drv.cuGraphExecDestroy, g.exec)
		return nil, derr
	}
	return g, nil
}

// launchGraph runs the program's graph g: pending argmax indices of
// earlier ops are landed first (the program's will be pending after), the
// graph is launched on the Memory's stream, and the event that frees the
// host parameter block is recorded after it.
func (p *Program) launchGraph(g *graphExec) error {
	m, d := p.m, p.m.d
	if err := d.enter(); err != nil {
		return err
	}
	mm := &m.llm.managed
	err := m.flushArgmax()
	if err == nil {
		err = d.drv.check("cuGraphLaunch", call(d.drv.cuGraphLaunch, g.exec, m.stream))
	}
	if err == nil && p.blockBytes > 0 {
		err = d.drv.check("cuEventRecord", call(d.drv.cuEventRecord, p.done, m.stream))
		p.launched = err == nil
	}
	d.leave()
	if err != nil {
		return fmt.Errorf("cuda: program: %w", err)
	}
	if p.argmax >= 0 {
		c := &p.cur[p.argmax]
		mm.pendOff, mm.pendN, mm.pendSrc = c.S[1].Off, uint64(4*c.I[0]), p.out.host
	}
	m.stats.KernelsLaunch += uint64(g.kernels)
	p.stats.GraphRuns++
	if p.hasSync {
		return m.Sync()
	}
	return nil
}

// dropGraphs destroys every graph of the program. The context is current
// or the caller enters it.
func (p *Program) dropGraphs() []error {
	if len(p.graphs) == 0 {
		return nil
	}
	d := p.m.d
	if err := d.enter(); err != nil {
		return []error{err}
	}
	defer d.leave()
	var errs []error
	for k, g := range p.graphs {
		errs = append(errs, d.drv.check("cuGraphExecDestroy", call(d.drv.cuGraphExecDestroy, g.exec)))
		delete(p.graphs, k)
	}
	return errs
}
