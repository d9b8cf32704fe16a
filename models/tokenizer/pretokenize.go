package tokenizer

import (
	"math"
	"unicode"
	"unicode/utf8"
)

// This file reproduces the Llama 3 pre-tokenizer regular expression
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// as a scanner. At each position the alternatives are tried in order and the
// first that matches wins (leftmost-first, with the greedy backtracking of
// the Rust engines). Every character matches some alternative, so the pieces
// cover the whole input. A byte that is not valid UTF-8 is treated as a
// character of its own that is neither letter, number nor space.

// class is the coarse character class the pattern distinguishes.
type class uint8

const (
	classOther   class = iota // none of the below
	classLetter               // \p{L}
	classNumber               // \p{N}
	classSpace                // \s other than \r and \n
	classNewline              // \r or \n (also \s)
)

func classify(r rune) class {
	if r < utf8.RuneSelf {
		switch {
		case r == '\r' || r == '\n':
			return classNewline
		case r == ' ' || r >= '\t' && r <= '\f':
			return classSpace
		case r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
			return classLetter
		case r >= '0' && r <= '9':
			return classNumber
		}
		return classOther
	}
	switch {
	case unicode.IsLetter(r):
		return classLetter
	case unicode.IsNumber(r):
		return classNumber
	case unicode.IsSpace(r): // Unicode White_Space
		return classSpace
	}
	return classOther
}

// scanner walks a string one character at a time.
type scanner struct {
	s string
}

// at returns the class and byte width of the character at i; i must be in
// range. Invalid UTF-8 bytes are one-byte classOther characters.
func (sc scanner) at(i int) (class, rune, int) {
	if c := sc.s[i]; c < utf8.RuneSelf {
		return classify(rune(c)), rune(c), 1
	}
	r, w := utf8.DecodeRuneInString(sc.s[i:])
	if r == utf8.RuneError {
		return classOther, r, w
	}
	return classify(r), r, w
}

// pretokenize calls emit with each piece of s, in order.
func pretokenize(s string, emit func(piece string)) {
	sc := scanner{s}
	for i := 0; i < len(s); {
		n := sc.match(i)
		emit(s[i : i+n])
		i += n
	}
}

// match returns the byte length of the match at i, which is always > 0.
func (sc scanner) match(i int) int {
	if n := sc.contraction(i); n > 0 {
		return n
	}
	c, _, w := sc.at(i)
	switch c {
	case classLetter:
		// [^\r\n\p{L}\p{N}]?\p{L}+ with the optional class empty.
		return w + sc.run(i+w, classLetter)
	case classNumber:
		return sc.digits(i)
	case classOther:
		// [^\r\n\p{L}\p{N}]?\p{L}+ with the optional class matched.
		if n := sc.run(i+w, classLetter); n > 0 {
			return w + n
		}
		// ?[^\s\p{L}\p{N}]+[\r\n]* without the space.
		return sc.punct(i)
	case classSpace:
		_, r, _ := sc.at(i)
		if n := sc.run(i+w, classLetter); n > 0 {
			return w + n // a space or tab before a word
		}
		if r == ' ' && i+w < len(sc.s) {
			if c2, _, _ := sc.at(i + w); c2 == classOther {
				return w + sc.punct(i+w)
			}
		}
	}
	// c is classSpace or classNewline: the three whitespace alternatives.
	end, lastNL := i, -1
	for end < len(sc.s) {
		c, _, w := sc.at(end)
		if c != classSpace && c != classNewline {
			break
		}
		if c == classNewline {
			lastNL = end + w
		}
		end += w
	}
	if lastNL > 0 {
		return lastNL - i // \s*[\r\n]+
	}
	if end == len(sc.s) {
		return end - i // \s+(?!\S) at the end of the input
	}
	// \s+(?!\S): give back the last whitespace character, if that leaves one.
	_, last := utf8.DecodeLastRuneInString(sc.s[i:end])
	if end-last > i {
		return end - last - i
	}
	return end - i // \s+
}

// run returns the byte length of the longest run of class c starting at i.
func (sc scanner) run(i int, c class) int { return sc.runUpTo(i, c, math.MaxInt) }

// digits matches \p{N}{1,3} at i, where a number is known to start.
func (sc scanner) digits(i int) int { return sc.runUpTo(i, classNumber, 3) }

// runUpTo returns the byte length of the longest run of class c starting at
// i that is at most most characters long.
func (sc scanner) runUpTo(i int, c class, most int) int {
	j := i
	for k := 0; k < most && j < len(sc.s); k++ {
		cj, _, w := sc.at(j)
		if cj != c {
			break
		}
		j += w
	}
	return j - i
}

// punct matches [^\s\p{L}\p{N}]+[\r\n]* at i, where a classOther character
// is known to start.
func (sc scanner) punct(i int) int {
	j := i + sc.run(i, classOther)
	for j < len(sc.s) && (sc.s[j] == '\r' || sc.s[j] == '\n') {
		j++
	}
	return j - i
}

// contraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, returning 0 if it
// does not match.
func (sc scanner) contraction(i int) int {
	if sc.s[i] != '\'' || i+1 >= len(sc.s) {
		return 0
	}
	_, r1, w1 := sc.at(i + 1)
	switch {
	case foldEq(r1, 's'), foldEq(r1, 't'), foldEq(r1, 'm'), foldEq(r1, 'd'):
		return 1 + w1
	case foldEq(r1, 'r'), foldEq(r1, 'v'), foldEq(r1, 'l'):
		j := i + 1 + w1
		if j >= len(sc.s) {
			return 0
		}
		_, r2, w2 := sc.at(j)
		want := 'e'
		if foldEq(r1, 'l') {
			want = 'l'
		}
		if foldEq(r2, want) {
			return 1 + w1 + w2
		}
	}
	return 0
}

// foldEq reports whether r equals the lower-case ASCII letter c under Unicode
// simple case folding, as a case-insensitive regex compares them.
func foldEq(r, c rune) bool {
	if r == c || r == c-('a'-'A') {
		return true
	}
	if r < utf8.RuneSelf {
		return false
	}
	for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return false
}
