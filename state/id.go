package state

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

// crockford is Crockford's base32 alphabet: ids sort as their time does
// and read without ambiguity (no I, L, O, U).
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

var (
	idMu   sync.Mutex
	idLast uint64
	idSeq  uint32
)

// NewID returns a 20-character id that sorts by creation time: 48 bits of
// milliseconds, a 16-bit sequence for ids made in the same millisecond by
// this process, and 36 random bits.
func NewID() string {
	ms := uint64(time.Now().UnixMilli())
	idMu.Lock()
	if ms <= idLast {
		ms = idLast
		idSeq++
		if idSeq > 0xffff {
			ms++
			idSeq = 0
		}
	} else {
		idSeq = 0
	}
	idLast = ms
	seq := idSeq
	idMu.Unlock()

	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	r := binary.BigEndian.Uint64(rnd[:]) >> 28 // 36 bits

	// 100 bits: 48 time | 16 seq | 36 random, written as 20 base32 digits.
	hi := ms<<16 | uint64(seq) // 64 bits
	var b strings.Builder
	b.Grow(20)
	// Spread hi (64 bits) and r (36 bits) into 20 groups of 5 bits.
	var digits [20]byte
	for i := 19; i >= 0; i-- {
		digits[i] = crockford[r&31]
		r >>= 5
		r |= (hi & 31) << 31
		hi >>= 5
	}
	b.Write(digits[:])
	return b.String()
}

// NewIdentity returns a new state identity: 16 random characters of
// Crockford's base32 (80 bits). Unlike NewID it does not start with the
// time, so that any prefix of it (ShortIdentity) is as random as the rest.
func NewIdentity() string {
	var rnd [10]byte
	_, _ = rand.Read(rnd[:])
	var b strings.Builder
	b.Grow(16)
	// 80 bits as 16 groups of 5.
	var acc uint64
	bits := 0
	for _, x := range rnd {
		acc = acc<<8 | uint64(x)
		bits += 8
		for bits >= 5 {
			bits -= 5
			b.WriteByte(crockford[(acc>>bits)&31])
		}
	}
	return b.String()
}
