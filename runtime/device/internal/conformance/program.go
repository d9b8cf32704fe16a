package conformance

import (
	"slices"
	"testing"

	"github.com/wasmgpu/wasmgpu/models"
	"github.com/wasmgpu/wasmgpu/runtime/device"
	"github.com/wasmgpu/wasmgpu/runtime/llm"
)

// Program holds the backend's run of the engine's token step as a program
// (llm.Engine.SetProgram: its ProgramRunner, or call by call) to the same
// engine decoding op by op, in every mode: the same tokens and logits bit
// for bit at every step, greedy and sampling, from a prefill to the end of
// the context. A program runs the op-by-op path's calls in its order, so a
// backend whose program takes other kernels than its per-op calls (a GPU
// graph) must still make them give the same bits.
func Program(t *testing.T, b Backend) {
	mw, err := models.Synthetic(models.Tiny(), 11, models.BF16)
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.Device.LoadWeights(llm.WeightTensors(mw))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const maxSeq = 40
	for _, mode := range b.Modes {
		if mode == device.Resident {
			continue // the engine writes its memory from the host, which a resident mirror does not see
		}
		for _, temp := range []float32{0, 0.8} {
			var es [2]*llm.Engine
			for i := range es {
				mem, err := b.Device.NewMemory(mode, 16<<20)
				if err != nil {
					t.Fatal(err)
				}
				defer mem.Close()
				if es[i], err = llm.NewNative(mw.Config, mem, w, llm.Options{KV: device.KVBF16, MaxSeq: maxSeq, MaxBatch: 8}); err != nil {
					t.Fatal(err)
				}
				defer es[i].Close()
				if err := es[i].SetSampling(temp, 0.9, 5); err != nil {
					t.Fatal(err)
				}
			}
			if err := es[1].SetProgram(true); err != nil {
				t.Fatal(err)
			}
			var toks [2][]int32
			for i, e := range es {
				next, err := e.Prefill([]int32{1, 17, 300, 42, 511, 0, 9, 128, 64, 3, 77})
				if err != nil {
					t.Fatal(err)
				}
				toks[i] = []int32{next}
			}
			for es[0].Pos() < maxSeq {
				var logits [2][]float32
				for i, e := range es {
					next, err := e.Decode(toks[i][len(toks[i])-1])
					if err != nil {
						t.Fatalf("%s temperature %v position %d, %s: %v", mode, temp, e.Pos(), []string{"op by op", "program"}[i], err)
					}
					toks[i], logits[i] = append(toks[i], next), slices.Clone(e.Logits())
				}
				if !slices.Equal(logits[0], logits[1]) {
					t.Fatalf("%s temperature %v position %d: the program's logits differ from op by op", mode, temp, es[0].Pos()-1)
				}
			}
			if !slices.Equal(toks[0], toks[1]) {
				t.Fatalf("%s temperature %v: tokens differ:\nop by op %v\nprogram  %v", mode, temp, toks[0], toks[1])
			}
			t.Logf("%s temperature %v: %d decode steps as a program agree with op by op", mode, temp, len(toks[0])-1)
		}
	}
}
