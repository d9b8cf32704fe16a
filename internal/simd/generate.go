package simd

//go:generate go run gen_amd64.go
