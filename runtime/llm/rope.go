package llm

import (
	"math"

	"github.com/wasmgpu/wasmgpu/models"
)

// InvFreq returns RoPE's inverse frequencies for cfg (headDim/2 of them), with
// llama3 frequency scaling when the config asks for it. Every step mirrors
// transformers' _compute_default_rope_parameters and
// _compute_llama3_parameters operation by operation in float32, including
// torch's `scalar / tensor`, which is reciprocal(tensor)·scalar, so the
// values match Hugging Face's to the last bit or within one ulp where libm's
// powf rounds differently.
func InvFreq(cfg models.Config) []float32 {
	dim := cfg.HeadDim
	half := dim / 2
	base := float32(cfg.RopeTheta)
	inv := make([]float32, half)
	for i := range inv {
		// inv_freq = 1.0 / (base ** (arange(0, dim, 2).float() / dim))
		e := float32(2*i) / float32(dim)
		p := float32(math.Pow(float64(base), float64(e)))
		inv[i] = (1 / p) * 1.0
	}
	rs := cfg.RopeScaling
	if rs == nil || rs.RopeType != "llama3" {
		return inv
	}
	factor, low, high := float32(rs.Factor), float32(rs.LowFreqFactor), float32(rs.HighFreqFactor)
	old := float64(rs.OriginalMaxPositionEmbeddings)
	lowWavelen := old / rs.LowFreqFactor   // Python floats
	highWavelen := old / rs.HighFreqFactor //
	twoPi := float32(2 * math.Pi)
	for i, f := range inv {
		// wavelen = 2 * math.pi / inv_freq
		wavelen := (1 / f) * twoPi
		// inv_freq_llama = where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
		v := f
		if float64(wavelen) > lowWavelen {
			v = f / factor
		}
		// smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
		smooth := (float32((1/wavelen)*float32(old)) - low) / (high - low)
		// smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
		smoothed := float32(float32((1-smooth)*v)/factor) + float32(smooth*v) // conversions forbid FMA fusion
		// is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
		if !(float64(wavelen) < highWavelen) && !(float64(wavelen) > lowWavelen) {
			v = smoothed
		}
		inv[i] = v
	}
	return inv
}
