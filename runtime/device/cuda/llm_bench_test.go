package cuda

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// TestLLMDecodeLlama1B measures Llama 3.2 1B decode (synthetic bf16
// weights, 2.47 GB) natively through the engine on cuda Memories: first in
// managed mode with each of llm_managed.go's page-placement measures off
// and on (WASMGPU_LLM_BENCH_VARIANTS, a comma list of none, hostio,
// prefetch, both; nopdl: hostio without programmatic dependent launch,
// llm_pdl.go; two rounds), then, unless WASMGPU_LLM_BENCH_SHORT is set,
// a long context in managed mode, mapped mode and per-op device times at
// the model's shapes (WASMGPU_LLM_BENCH_SHORT=ops: only the op times). Each
// decode reports ms/token, the weight bytes read per second, the time of
// one Forward (queue and sync) and the device span of that token's ops
// (first queued to last done). It needs a
// GPU and WASMGPU_LLM_BENCH=1 (generating the weights takes seconds on many
// cores, a minute on few).
func TestLLMDecodeLlama1B(t *testing.T) {
	if os.Getenv("WASMGPU_LLM_BENCH") == "" {
		t.Skip("set WASMGPU_LLM_BENCH=1 to run the Llama 3.2 1B decode benchmark on a GPU")
	}
	d := gpu(t)
	cfg := models.Llama32_1B()
	start := time.Now()
	mw, err := models.Synthetic(cfg, 1, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	gen := time.Since(start)
	start = time.Now()
	w, err := d.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	t.Logf("%s: weights %d bytes on the device; generated in %v, loaded in %v", d.Info().Name, w.DeviceBytes(), gen.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	wbytes := float64(w.DeviceBytes())

	names := os.Getenv("WASMGPU_LLM_BENCH_VARIANTS")
	if names == "" {
		names = "none,hostio,prefetch,both"
	}
	hostio0, prefetch0 := managedHostIO, managedPrefetch
	defer func() { managedHostIO, managedPrefetch = hostio0, prefetch0 }()
	var rows []string
	for round := range 2 {
		for _, v := range strings.Split(names, ",") {
			managedHostIO = v == "hostio" || v == "both" || v == "nopdl"
			managedPrefetch = v == "prefetch" || v == "both"
			if v == "nopdl" {
				os.Setenv("WASMGPU_CUDA_PDL", "0")
			}
			r := benchDecode(t, d, w, cfg, device.Managed, 200, false)
			os.Unsetenv("WASMGPU_CUDA_PDL")
			rows = append(rows, fmt.Sprintf("managed %-9s round %d: %s", v, round, r.String(wbytes)))
		}
	}
	managedHostIO, managedPrefetch = hostio0, prefetch0
	for _, r := range rows {
		t.Log(r)
	}
	if short := os.Getenv("WASMGPU_LLM_BENCH_SHORT"); short != "" {
		if short == "ops" {
			llmOpTimes(t, d, w, cfg)
		}
		return
	}
	benchDecode(t, d, w, cfg, device.Managed, 200, true)
	r := benchDecode(t, d, w, cfg, device.Mapped, 10, false)
	t.Logf("mapped: %s", r.String(wbytes))
	llmOpTimes(t, d, w, cfg)
}

// decodeResult is one decode measurement: medians per token.
type decodeResult struct {
	pos                  int
	tok, enqueue, devFwd time.Duration
	launches             uint64
}

func (r decodeResult) String(wbytes float64) string {
	return fmt.Sprintf("decode at pos %d: %.3f ms/token, %.0f GB/s of weights; host queue %.3f ms, device span of a forward %.3f ms; %d launches so far",
		r.pos, ms(r.tok), wbytes/r.tok.Seconds()/1e9, ms(r.enqueue), ms(r.devFwd), r.launches)
}

// benchDecode makes an engine on a fresh Memory in mode, prefills 8 tokens
// and measures decode over tokens tokens; with long, it then fills the
// context to ~4000, reports that prefill and decodes 50 tokens there.
func benchDecode(t *testing.T, d *Device, w device.Weights, cfg models.Config, mode device.Mode, tokens int, long bool) decodeResult {
	wbytes := float64(w.DeviceBytes())
	mem, err := d.NewMemory(mode, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := mem.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	m := asMemory(mem)
	e, err := llm.NewNative(cfg, mem, w, llm.Options{KV: device.KVBF16, MaxSeq: 4200, MaxBatch: 256})
	if err != nil {
		t.Fatal(err)
	}
	prompt := make([]int32, 8)
	for i := range prompt {
		prompt[i] = int32(1000 + 37*i)
	}
	if _, err := e.Prefill(prompt); err != nil {
		t.Fatal(err)
	}
	decode := func(n int) decodeResult {
		if _, err := e.Generate(3); err != nil { // warm
			t.Fatal(err)
		}
		times := make([]time.Duration, 0, n)
		for range n {
			s := time.Now()
			if _, err := e.Decode(e.Next()); err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(s))
		}
		// Queue time: Forward queues every op of a token without waiting;
		// events around it give the device span of those ops.
		var q, dev []time.Duration
		for range 7 {
			host, el := m.eventTime(t, func() error { return e.Forward([]int32{e.Next()}, false) })
			q, dev = append(q, host), append(dev, el)
			if _, err := e.Decode(7); err != nil {
				t.Fatal(err)
			}
		}
		if err := prefetchErr(m); err != nil {
			t.Logf("managed prefetch failed, so it was off: %v", err)
		}
		return decodeResult{pos: e.Pos(), tok: quantile(times, 0.5), enqueue: quantile(q, 0.5), devFwd: quantile(dev, 0.5), launches: mem.Stats().KernelsLaunch}
	}
	r := decode(tokens)
	if !long {
		return r
	}
	t.Logf("%s (default measures): %s", mode, r.String(wbytes))
	fill := make([]int32, 4000-e.Pos())
	for i := range fill {
		fill[i] = int32(i % 5000)
	}
	s := time.Now()
	if err := e.Forward(fill, false); err != nil {
		t.Fatal(err)
	}
	if err := mem.Sync(); err != nil {
		t.Fatal(err)
	}
	pf := time.Since(s)
	t.Logf("%s prefill of %d tokens (256 per pass): %.1f ms, %.0f tok/s", mode, len(fill), ms(pf), float64(len(fill))/pf.Seconds())
	if _, err := e.Prefill([]int32{1}); err != nil {
		t.Fatal(err)
	}
	r = decode(50)
	t.Logf("%s (default measures): %s", mode, r.String(wbytes))
	return r
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// llmOpTimes times each op at Llama 3.2 1B's decode shapes on a managed
// memory: 200 back-to-back calls between two events, cycling through the 16
// layers' weights as a token does (one layer's fit in the 50 MB L2), so each
// number is the device time per call when the GPU is the bottleneck (or
// the launch rate when it is not).
func llmOpTimes(t *testing.T, d *Device, w device.Weights, cfg models.Config) {
	dm, err := d.NewMemory(device.Managed, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer dm.Close()
	m := asMemory(dm)
	if err := m.Grow(256 << 20); err != nil {
		t.Fatal(err)
	}
	ids := llm.IDs(cfg)
	L := ids.Layers[0]
	top := uint64(256)
	span := func(n int) device.Span {
		s := device.Span{Off: top, Len: uint64(n)}
		top = (top + uint64(n) + 255) &^ 255
		return s
	}
	b := m.Bytes()
	for i := range b[:128<<20] {
		b[i] = byte(i*7) & 0x3f // small positive-ish floats, no NaN
	}
	dim, inter, vocab := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	heads, kvh, hd := cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim
	x, xb, q := span(4*dim), span(4*dim), span(4*heads*hd)
	k, hb, hb2 := span(4*kvh*hd), span(4*inter), span(4*inter)
	logits, next, inv := span(4*vocab), span(4), span(4*hd/2)
	kc, vc := span(4096*kvh*hd*2), span(4096*kvh*hd*2)
	att := span(4 * heads * hd)
	v := span(4 * kvh * hd)
	tensorBytes := func(id int) float64 { tt, _ := w.Tensor(id); return float64(len(tt.Data)) }
	qkvOut := []device.Span{q, k, v}
	qkvBytes := tensorBytes(L.Q) + tensorBytes(L.K) + tensorBytes(L.V)
	gluBytes := tensorBytes(L.Gate) + tensorBytes(L.Up)
	ops := []struct {
		name  string
		bytes float64
		f     func() error
	}{
		{"rmsnorm 2048", 0, func() error { return m.RMSNorm(w, L.AttnNorm, x, xb, 1, 1e-5) }},
		{"linear q 2048x2048", tensorBytes(L.Q), func() error { return m.Linear(w, L.Q, xb, q, 1) }},
		{"linear k 512x2048", tensorBytes(L.K), func() error { return m.Linear(w, L.K, xb, k, 1) }},
		{"linear gate 8192x2048", tensorBytes(L.Gate), func() error { return m.Linear(w, L.Gate, xb, hb, 1) }},
		{"linear down 2048x8192", tensorBytes(L.Down), func() error { return m.Linear(w, L.Down, hb, xb, 1) }},
		{"linear lm_head 128256x2048", tensorBytes(ids.LMHead), func() error { return m.Linear(w, ids.LMHead, xb, logits, 1) }},
		{"smem: linear q", tensorBytes(L.Q), func() error { return smem(func() error { return m.Linear(w, L.Q, xb, q, 1) }) }},
		{"smem: linear k", tensorBytes(L.K), func() error { return smem(func() error { return m.Linear(w, L.K, xb, k, 1) }) }},
		{"smem: linear gate", tensorBytes(L.Gate), func() error { return smem(func() error { return m.Linear(w, L.Gate, xb, hb, 1) }) }},
		{"smem: linear down", tensorBytes(L.Down), func() error { return smem(func() error { return m.Linear(w, L.Down, hb, xb, 1) }) }},
		{"smem: linear lm_head", tensorBytes(ids.LMHead), func() error { return smem(func() error { return m.Linear(w, ids.LMHead, xb, logits, 1) }) }},
		{"rope q", 0, func() error { return m.RoPE(q, inv, 1, heads, hd, 100) }},
		{"kvstore k bf16", 0, func() error { return m.KVStore(k, kc, device.KVBF16, 1, 100, kvh*hd) }},
		{"attention ctx 16", 0, func() error { return m.Attention(q, kc, vc, att, device.KVBF16, 1, 15, heads, kvh, hd) }},
		{"attention ctx 1024", 0, func() error { return m.Attention(q, kc, vc, att, device.KVBF16, 1, 1023, heads, kvh, hd) }},
		{"attention ctx 4096", 0, func() error { return m.Attention(q, kc, vc, att, device.KVBF16, 1, 4095, heads, kvh, hd) }},
		{"swiglu 8192", 0, func() error { return m.SwiGLU(hb, hb2, hb, inter) }},
		{"add 2048", 0, func() error { return m.Add(x, xb, dim) }},
		{"argmax 128256", 0, func() error { return m.Argmax(logits, next, 1, vocab) }},
		{"attention ctx 256", 0, func() error { return m.Attention(q, kc, vc, att, device.KVBF16, 1, 255, heads, kvh, hd) }},
		// The fused ops of a decode step (llm_fused.go).
		{"norm_linear qkv", qkvBytes, func() error { return m.NormLinear(w, L.AttnNorm, []int{L.Q, L.K, L.V}, x, xb, qkvOut, 1, 1e-5) }},
		{"rope_kv bf16", 0, func() error { return m.RoPEKV(q, k, v, inv, kc, vc, device.KVBF16, 1, 100, heads, kvh, hd) }},
		{"linear_add o", tensorBytes(L.O), func() error { return m.LinearAdd(w, L.O, att, xb, x, 1) }},
		{"norm_glu", gluBytes, func() error { return m.NormGLU(w, L.MLPNorm, L.Gate, L.Up, x, xb, hb2, hb, 1, 1e-5) }},
		{"linear_add down", tensorBytes(L.Down), func() error { return m.LinearAdd(w, L.Down, hb, xb, x, 1) }},
		{"attention f32 cache ctx 512 (generic kernel)", 0, func() error { return m.Attention(q, kc, vc, att, device.KVF32, 1, 511, heads, kvh, hd) }},
		{"norm_linear lm_head", tensorBytes(ids.LMHead), func() error {
			return m.NormLinear(w, ids.FinalNorm, []int{ids.LMHead}, x, xb, []device.Span{logits}, 1, 1e-5)
		}},
	}
	const reps = 200
	var rows []string
	for _, op := range ops {
		for range 3 {
			if err := op.f(); err != nil {
				t.Fatalf("%s: %v", op.name, err)
			}
		}
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		host, dev := m.eventTime(t, func() error {
			for i := range reps {
				L = ids.Layers[i%len(ids.Layers)] // each layer's weights in turn: no L2 reuse, as in a token
				if err := op.f(); err != nil {
					return err
				}
			}
			return nil
		})
		per := dev / reps
		row := fmt.Sprintf("%-28s %8.2f µs/op device, %6.2f µs/op host queue", op.name, float64(per.Nanoseconds())/1e3, float64(host.Nanoseconds())/1e3/reps)
		if op.bytes > 0 {
			row += fmt.Sprintf(", %5.0f GB/s", op.bytes/per.Seconds()/1e9)
		}
		rows = append(rows, row)
	}
	for _, r := range rows {
		t.Log(r)
	}
}

// smem runs f with decode GEMVs staging x in shared memory.
func smem(f func() error) error {
	gemvFromGlobal = false
	defer func() { gemvFromGlobal = true }()
	return f()
}

// eventTime runs f, which queues work, between the Memory's start and stop
// events and returns the host's time in f and the device's between the
// events (after a sync).
func (m *Memory) eventTime(t *testing.T, f func() error) (host, dev time.Duration) {
	t.Helper()
	err := m.record(m.evStart)
	s := time.Now()
	if err == nil {
		err = f()
	}
	host = time.Since(s)
	if err == nil {
		err = m.record(m.evStop)
	}
	if err == nil {
		err = m.Sync()
	}
	if err == nil {
		dev, err = m.elapsed()
	}
	if err != nil {
		t.Fatal(err)
	}
	return host, dev
}

// record queues event ev on the Memory's stream.
func (m *Memory) record(ev uintptr) error {
	if err := m.d.enter(); err != nil {
		return err
	}
	defer m.d.leave()
	return m.d.drv.check("cuEventRecord", call(m.d.drv.cuEventRecord, ev, m.stream))
}

// elapsed is the time between the Memory's start and stop events.
func (m *Memory) elapsed() (time.Duration, error) {
	if err := m.d.enter(); err != nil {
		return 0, err
	}
	defer m.d.leave()
	if err := m.d.drv.check("cuEventElapsedTime", call(m.d.drv.cuEventElapsedTime, uintptr(unsafe.Pointer(&m.ms)), m.evStart, m.evStop)); err != nil {
		return 0, err
	}
	return time.Duration(float64(m.ms) * 1e6), nil
}
