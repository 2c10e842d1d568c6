package castore

import (
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/zeebo/blake3"
)

// DigestSize is the length of a BLAKE3-256 digest in bytes.
const DigestSize = 32

// Digest is a BLAKE3-256 digest. The zero value is not a valid digest of
// anything in particular; use IsZero to detect it.
type Digest [DigestSize]byte

// EmptyDigest is BLAKE3 of no bytes: the digest of the empty blob and of the
// empty Directory.
var EmptyDigest = Sum(nil)

// Sum returns the BLAKE3-256 digest of b.
func Sum(b []byte) Digest { return Digest(blake3.Sum256(b)) }

// DigestFromBytes converts a raw 32-byte slice (as found on the wire) into a
// Digest. Any other length is an ErrDigestLength.
func DigestFromBytes(b []byte) (Digest, error) {
	var d Digest
	if len(b) != DigestSize {
		return d, &ValidationError{Name: hex.EncodeToString(b), Err: ErrDigestLength}
	}
	copy(d[:], b)
	return d, nil
}

// ParseDigest parses the text forms of a digest: "b3:" followed by standard
// padded base64 (as tvix prints it), or 64 lower- or upper-case hex
// characters (as used in storage keys).
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if rest, ok := strings.CutPrefix(s, "b3:"); ok {
		if len(rest) != base64.StdEncoding.EncodedLen(DigestSize) {
			return d, &ValidationError{Name: s, Err: ErrDigestLength}
		}
		n, err := base64.StdEncoding.Decode(d[:], []byte(rest))
		if err != nil {
			return Digest{}, &ValidationError{Name: s, Err: ErrDigestFormat}
		}
		if n != DigestSize {
			return Digest{}, &ValidationError{Name: s, Err: ErrDigestLength}
		}
		return d, nil
	}
	if len(s) != 2*DigestSize {
		return d, &ValidationError{Name: s, Err: ErrDigestFormat}
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return Digest{}, &ValidationError{Name: s, Err: ErrDigestFormat}
	}
	return d, nil
}

// String returns the tvix text form, "b3:" + standard base64.
func (d Digest) String() string { return "b3:" + base64.StdEncoding.EncodeToString(d[:]) }

// Hex returns the lower-case hex form used in storage keys.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero value.
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText implements encoding.TextMarshaler with the b3: form.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts both forms.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Hasher computes a Digest incrementally. It is an io.Writer.
type Hasher struct{ h *blake3.Hasher }

// NewHasher returns a Hasher for BLAKE3-256.
func NewHasher() *Hasher { return &Hasher{h: blake3.New()} }

// Write adds p to the hashed stream. It never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// Sum returns the digest of everything written so far.
func (h *Hasher) Sum() Digest {
	var d Digest
	h.h.Sum(d[:0])
	return d
}

// Reset forgets everything written.
func (h *Hasher) Reset() { h.h.Reset() }
