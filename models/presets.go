package models

// Llama32_1B returns the configuration of Llama 3.2 1B Instruct, as in its
// config.json: 16 layers, hidden 2048, 32 query and 8 KV heads of 64, llama3
// RoPE scaling, tied embeddings; 1.236 B parameters.
func Llama32_1B() Config {
	return Config{
		VocabSize:             128256,
		HiddenSize:            2048,
		IntermediateSize:      8192,
		NumHiddenLayers:       16,
		NumAttentionHeads:     32,
		NumKeyValueHeads:      8,
		HeadDim:               64,
		RMSNormEps:            1e-5,
		RopeTheta:             500000,
		RopeScaling:           &RopeScaling{RopeType: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192},
		TieWordEmbeddings:     true,
		MaxPositionEmbeddings: 131072,
		TorchDType:            "bfloat16",
		BOSTokenID:            128000,
		EOSTokenIDs:           TokenIDs{128001, 128008, 128009},
	}
}

// Tiny returns a miniature Llama of the same shape (grouped-query attention
// with 2 query heads per KV head, llama3 RoPE scaling, tied embeddings) for
// fast tests: vocab 512, hidden 64, 2 layers, 4 heads of 16, 2 KV heads;
// 131,392 parameters.
func Tiny() Config {
	c := Llama32_1B()
	c.VocabSize, c.HiddenSize, c.IntermediateSize = 512, 64, 192
	c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim = 2, 4, 2, 16
	c.BOSTokenID, c.EOSTokenIDs = 1, TokenIDs{2}
	return c
}
