package tokenizer

import "unicode/utf8"

// byteToRune is the GPT-2 byte-level alphabet: printable Latin-1 bytes map to
// themselves and the others to U+0100 onwards, in byte order.
var byteToRune [256]rune

// runeToByte inverts byteToRune; entries for runes outside the alphabet are
// -1.
var runeToByte [324]int16

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
	}
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	for b, r := range byteToRune {
		runeToByte[r] = int16(b)
	}
}

// byteLevelDecode converts a byte-level token string (as stored in
// tokenizer.json) into the raw bytes it stands for. ok is false when the
// string holds a character outside the byte-level alphabet.
func byteLevelDecode(s string) (raw []byte, ok bool) {
	raw = make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0 || int(r) >= len(runeToByte) || runeToByte[r] < 0 {
			return nil, false
		}
		raw = append(raw, byte(runeToByte[r]))
	}
	return raw, true
}

// byteLevelEncode is the inverse of byteLevelDecode.
func byteLevelEncode(raw []byte) string {
	out := make([]byte, 0, 2*len(raw))
	for _, b := range raw {
		out = utf8.AppendRune(out, byteToRune[b])
	}
	return string(out)
}

// appendLossyUTF8 appends src to dst, replacing each maximal ill-formed
// subsequence with U+FFFD, as the WHATWG decoder and Rust's
// String::from_utf8_lossy do.
func appendLossyUTF8(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c == 0xED:
			need, hi = 2, 0x9F
		case c >= 0xE1 && c <= 0xEF:
			need = 2
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i++
			continue
		}
		j := i + 1
		for k := 0; k < need && j < len(src); k++ {
			b := src[j]
			if k == 0 && (b < lo || b > hi) || k > 0 && (b < 0x80 || b > 0xBF) {
				break
			}
			j++
		}
		if j-i == need+1 {
			dst = append(dst, src[i:j]...)
		} else {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
		i = j
	}
	return dst
}
