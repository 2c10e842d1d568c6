package bucket

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/castore-go/castore/objectstore"
)

// Prefix checks a store's key prefix and returns it with a trailing '/',
// or "" for none.
func Prefix(prefix string) (string, error) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return "", nil
	}
	if err := objectstore.CheckKey(prefix); err != nil {
		return "", fmt.Errorf("prefix %q: %w", prefix, err)
	}
	return prefix + "/", nil
}

// ParseURL returns the bucket and key prefix of a URL scheme://bucket/prefix,
// the prefix without leading or trailing '/'. validName is the service's
// rule for bucket names; a name with ".." is never valid.
func ParseURL(u *url.URL, validName *regexp.Regexp) (name, prefix string, err error) {
	if u.Host == "" {
		return "", "", fmt.Errorf("no bucket: write %s://bucket/prefix", u.Scheme)
	}
	if u.Port() != "" || strings.Contains(u.Host, ":") {
		return "", "", errors.New("bucket name contains ':'")
	}
	if strings.Contains(u.Host, "..") || !validName.MatchString(u.Host) {
		return "", "", fmt.Errorf("%q is not a valid bucket name", u.Host)
	}
	prefix, err = Prefix(strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		return "", "", err
	}
	return u.Host, strings.TrimSuffix(prefix, "/"), nil
}

// String returns the URL of a bucket location, as ParseURL reads it.
func String(scheme, name, prefix string, q url.Values) string {
	u := url.URL{Scheme: scheme, Host: name, Path: "/" + prefix, RawQuery: q.Encode()}
	return u.String()
}

// Reader names the object in read errors other than io.EOF.
func Reader(op, key string, rc io.ReadCloser) io.ReadCloser {
	return &keyReader{op: op, key: key, rc: rc}
}

type keyReader struct {
	op, key string
	rc      io.ReadCloser
}

func (r *keyReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s %q: %w", r.op, r.key, err)
	}
	return n, err
}

func (r *keyReader) Close() error { return r.rc.Close() }
