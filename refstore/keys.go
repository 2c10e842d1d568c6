package refstore

import (
	"strings"

	"github.com/castore-go/castore"
)

// The object key of a tag is Prefix, then the name's segments, then a
// last component "~": "ci/main" is refs/ci/main/~. The "~" (a character
// no tag name has) makes every tag's object a leaf, so that "ci" and
// "ci/main" can both be tags on a store whose keys are files (filestore:
// "refs/ci" cannot be a file and a directory). A segment longer than
// maxPiece bytes is cut into pieces of maxPiece, each but the last ending
// in "~", so no component outgrows a file name (255 bytes); a name of 512
// bytes makes a key of under 530.
//
// Key order is not name order ("ci/~" sorts after "ci-x/~"), so List
// sorts the names it finds.

const (
	marker   = "~"
	maxPiece = 200
)

// objectKey returns the key of the tag name.
func objectKey(name string) string {
	return Prefix + encodeSegments(name) + "/" + marker
}

// listPrefix returns the key prefix under which the keys of all tags
// starting with prefix are (and some that do not: filter the names).
func listPrefix(prefix string) string {
	return Prefix + encodeSegments(prefix)
}

func encodeSegments(name string) string {
	if len(name) <= maxPiece {
		return name // no segment is too long
	}
	var b strings.Builder
	for i, seg := range strings.Split(name, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		for len(seg) > maxPiece {
			b.WriteString(seg[:maxPiece])
			b.WriteString(marker + "/")
			seg = seg[maxPiece:]
		}
		b.WriteString(seg)
	}
	return b.String()
}

// tagName returns the name whose key is key, or false for a key that is
// no tag's.
func tagName(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return "", false
	}
	rest, ok = strings.CutSuffix(rest, "/"+marker)
	if !ok {
		return "", false
	}
	name := strings.ReplaceAll(rest, marker+"/", "")
	if castore.ValidateTagName(name) != nil || objectKey(name) != key {
		return "", false
	}
	return name, true
}
