package objectstore_test

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/gcsstore"
	"github.com/castore-go/castore/objectstore/memstore"
	"github.com/castore-go/castore/objectstore/s3store"
)

// stores is every backend, as compose registers them.
var stores = objectstore.NewRegistry(s3store.Backend(), gcsstore.Backend(), filestore.Backend(), memstore.Backend())

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want objectstore.Location
	}{
		{"memory://", memstore.Location{}},
		{"memory:", memstore.Location{}},
		{"memory:///", memstore.Location{}},
		{"file:///var/lib/castore", filestore.Location{Path: "/var/lib/castore"}},
		{"file://localhost/var/lib/castore/", filestore.Location{Path: "/var/lib/castore"}},
		{"file:///var/./lib/../lib//castore", filestore.Location{Path: "/var/lib/castore"}},
		{"file:///with%20space?sync=none", filestore.Location{Path: "/with space", Sync: filestore.SyncNone}},
		{"file:///x?sync=each", filestore.Location{Path: "/x", Sync: filestore.SyncEach}},
		{"s3://bucket", s3store.Location{Bucket: "bucket"}},
		{"s3://my.bucket-1/", s3store.Location{Bucket: "my.bucket-1"}},
		{"s3://bucket/castore/prod/?region=eu-west-1&endpoint=http://127.0.0.1:9000&force_path_style=true",
			s3store.Location{Bucket: "bucket", Prefix: "castore/prod", Region: "eu-west-1", Endpoint: "http://127.0.0.1:9000", ForcePathStyle: true}},
		{"s3://bucket/p?force_path_style=false", s3store.Location{Bucket: "bucket", Prefix: "p"}},
		{"gs://bucket_with_underscore/a/b", gcsstore.Location{Bucket: "bucket_with_underscore", Prefix: "a/b"}},
		{"gs://bucket/a%2Fb", gcsstore.Location{Bucket: "bucket", Prefix: "a/b"}},
	} {
		got, err := stores.ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.url, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.url, got, tc.want)
		}
		again, err := stores.ParseURL(got.String())
		if err != nil || again != got {
			t.Errorf("ParseURL(%q.String() = %q) = %+v, %v; want %+v", tc.url, got.String(), again, err, got)
		}
	}
}

// TestParseURLErrors: bad URLs fail with an error that names the problem
// and never repeats credentials or query values.
func TestParseURLErrors(t *testing.T) {
	for _, tc := range []struct {
		url, want string
		secrets   []string
	}{
		{"", "no scheme", nil},
		{"bucket/prefix", "no scheme", nil},
		{"/abs/path", "no scheme", nil},
		{"ftp://host/x", `unknown scheme "ftp"`, nil},
		{"S4://host/x", `unknown scheme "s4"`, nil},
		{"s3://", "no bucket", nil},
		{"s3:///prefix", "no bucket", nil},
		{"gs:///prefix", "no bucket", nil},
		{"s3:bucket/prefix", "write s3:// followed by a location", nil},
		{"s3://Upper_Case/p", "not a valid bucket name", nil},
		{"s3://ab/p", "not a valid bucket name", nil},
		{"s3://a..b/p", "not a valid bucket name", nil},
		{"s3://bucket:9000/p", "':'", nil},
		{"s3://[::1]/p", "':'", nil},
		{"s3://AKIAEXAMPLEKEY:wJalrXUtnFEMIsecretKEY@bucket/p", "credentials in the URL", []string{"AKIAEXAMPLEKEY", "wJalrXUtnFEMIsecretKEY"}},
		{"gs://user@bucket/p", "credentials in the URL", []string{"user@"}},
		{"s3://bucket/p?aws_secret_access_key=SuperSecretValue", `unknown parameter "aws_secret_access_key"`, []string{"SuperSecretValue"}},
		{"s3://bucket/p?region=us-east-1&region=eu-west-1", `"region" given more than once`, nil},
		{"s3://bucket/p?region=Not_A_Region%2FSECRETISH", "region is not a region name", []string{"SECRETISH"}},
		{"s3://bucket/p?force_path_style=maybe", "force_path_style must be true or false", []string{"maybe"}},
		{"s3://bucket/p?endpoint=ftp://minio:9000", "endpoint must be an http", nil},
		{"s3://bucket/p?endpoint=http://admin:hunter2hunter2@minio:9000", "endpoint must be an http", []string{"hunter2hunter2"}},
		{"s3://bucket/p?endpoint=http://minio:9000?token=tokentoken", "endpoint must be an http", []string{"tokentoken"}},
		{"s3://bucket/p?endpoint=%zz", "malformed query", nil},
		{"s3://bucket/a//b", "empty path component", nil},
		{"s3://bucket/../escape", `"." or ".." path component`, nil},
		{"gs://bucket/a/./b", `"." or ".." path component`, nil},
		{"gs://bucket/nul%00byte", "control character", nil},
		{"gs://bucket/p?userProject=x", `unknown parameter "userProject"`, nil},
		{"s3://bucket/p#fragment", "fragment", nil},
		{"s3://bucket/p#", "fragment", nil},
		{"s3://bucket/%zz", "not a valid URL", nil},
		{"s3://us%zzer:passpass@bucket/p", "not a valid URL", []string{"passpass"}},
		{"s3://user:pass word@bucket/p", "not a valid URL", []string{"pass word"}},
		{"file://relative/path", "file URL has a host", nil},
		{"file://./x", "file URL has a host", nil},
		{"file:relative/path", "write file:// followed by a location", nil},
		{"file:", "absolute path", nil},
		{"file:///x?sync=sometimes", "sync must be group, each or none", []string{"sometimes"}},
		{"file:///x?syncc=none", `unknown parameter "syncc"`, nil},
		{"file:///x%00y", "NUL", nil},
		{"memory://host", "memory:// takes no host or path", nil},
		{"memory:///path", "memory:// takes no host or path", nil},
		{"memory://?x=1", `unknown parameter "x"`, nil},
		{"objectstore+s3://bucket/p", `unknown scheme "objectstore+s3"`, nil},
	} {
		_, err := stores.ParseURL(tc.url)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error containing %q", tc.url, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseURL(%q) = %q, want it to contain %q", tc.url, err, tc.want)
		}
		for _, s := range tc.secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("ParseURL(%q) = %q, which repeats %q", tc.url, err, s)
			}
		}
		if _, openErr := stores.Open(t.Context(), tc.url); openErr == nil || openErr.Error() != err.Error() {
			t.Errorf("Open(%q) = %v, want the ParseURL error", tc.url, openErr)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	s, err := stores.Open(ctx, "memory://")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*memstore.Store); !ok {
		t.Errorf("Open(memory://) = %T", s)
	}
	s.Close()

	dir := filepath.Join(t.TempDir(), "new", "store")
	s, err = stores.Open(ctx, (&url.URL{Scheme: "file", Path: dir}).String())
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := s.(*filestore.Store); !ok || f.Root() != dir {
		t.Errorf("Open(file://%s) = %T %v", dir, s, s)
	}
	if err := s.Put(ctx, "k", strings.NewReader("v")); err != nil {
		t.Error(err)
	}
	s.Close()

	// S3 needs a region unless an endpoint is given; Open says so without
	// touching the network.
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	if _, err := stores.Open(ctx, "s3://bucket/p"); err == nil || !strings.Contains(err.Error(), "no region") {
		t.Errorf("Open(s3 without a region) = %v, want a 'no region' error", err)
	}
	for _, u := range []string{"s3://bucket/p?region=eu-west-1", "s3://bucket/p?endpoint=http://127.0.0.1:1"} {
		s, err := stores.Open(ctx, u)
		if err != nil {
			t.Errorf("Open(%s): %v", u, err)
			continue
		}
		s.Close()
	}
}

// FuzzParseURL checks the URL parser (no network): it never panics, its
// errors never repeat user info or query values, and what it accepts
// prints back to a URL that parses to the same location.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"memory://", "file:///a/b?sync=none", "file://localhost/x/../y",
		"s3://bucket/pre/fix?region=eu-west-1&endpoint=http://127.0.0.1:9000&force_path_style=true",
		"gs://bucket/a%2Fb", "s3://AKIA:secretsecret@bucket/p", "s3://bucket/p?token=secretsecret",
		"s3://bucket/%zz", "file:relative", "gs://b_b/\u00fc/x", "s3://bucket/p#frag",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := stores.ParseURL(raw)
		if err != nil {
			checkNoSecrets(t, raw, err)
			return
		}
		checkBucket := func(bucket, prefix string) {
			if bucket == "" {
				t.Fatalf("ParseURL(%q) has no bucket", raw)
			}
			if prefix != "" {
				if err := objectstore.CheckKey(prefix); err != nil {
					t.Fatalf("ParseURL(%q).Prefix = %q: %v", raw, prefix, err)
				}
			}
		}
		switch loc := loc.(type) {
		case memstore.Location:
		case filestore.Location:
			if !filepath.IsAbs(loc.Path) || filepath.Clean(loc.Path) != loc.Path {
				t.Fatalf("ParseURL(%q).Path = %q, not absolute and clean", raw, loc.Path)
			}
		case s3store.Location:
			checkBucket(loc.Bucket, loc.Prefix)
		case gcsstore.Location:
			checkBucket(loc.Bucket, loc.Prefix)
		default:
			t.Fatalf("ParseURL(%q) = %T", raw, loc)
		}
		again, err := stores.ParseURL(loc.String())
		if err != nil || again != loc {
			t.Fatalf("ParseURL(%q) = %+v, whose String %q parses to %+v, %v", raw, loc, loc.String(), again, err)
		}
	})
}

// checkNoSecrets fails if err repeats the user info or a query value of
// raw, unless that text is also in the parts an error may show.
func checkNoSecrets(t *testing.T, raw string, err error) {
	t.Helper()
	if errors.Unwrap(err) != nil {
		t.Fatalf("ParseURL(%q) wraps %v, which may carry the URL", raw, errors.Unwrap(err))
	}
	u, perr := url.Parse(raw)
	if perr != nil {
		// Only the scheme may be shown.
		scheme, _, _ := strings.Cut(raw, ":")
		msg := strings.Replace(err.Error(), scheme, "", 1)
		for _, piece := range strings.FieldsFunc(raw, func(r rune) bool { return r == '@' || r == ':' || r == '/' || r == '?' || r == '&' || r == '=' }) {
			if len(piece) >= 8 && piece != scheme && strings.Contains(msg, piece) && !strings.Contains("objectstore URL not a valid URL (unparsable)", piece) {
				t.Fatalf("ParseURL(%q) = %q, which repeats %q of an unparsable URL", raw, err, piece)
			}
		}
		return
	}
	visible := u.Scheme + " " + u.Host + " " + u.Path + " " + (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	var secrets []string
	if u.User != nil {
		secrets = append(secrets, u.User.Username())
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
	}
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		for _, vs := range q {
			secrets = append(secrets, vs...)
		}
	}
	secrets = append(secrets, u.Fragment)
	for _, s := range secrets {
		if len(s) >= 6 && !strings.Contains(visible, s) && strings.Contains(err.Error(), s) && !strings.Contains(fixedText, s) {
			t.Fatalf("ParseURL(%q) = %q, which repeats %q", raw, err, s)
		}
	}
}

// fixedText is what error messages say on their own; a "secret" that is a
// substring of it proves nothing.
const fixedText = `objectstore URL: credentials in the URL are not supported; use the environment or the SDK's configuration
a fragment (#...) is not allowed write followed by a location malformed query memory:// takes no host or path
file URL has a host; write file:///absolute/path file URL needs an absolute path path contains a NUL byte
sync must be group, each or none no bucket: write bucket/prefix bucket name contains ':' is not a valid bucket name
region is not a region name (lowercase letters, digits and '-') endpoint must be an http:// or https:// URL with a host and nothing after the path
force_path_style must be true or false no scheme: use s3://, gs://, file:/// or memory:// unknown scheme : use s3, gs, file or memory
unknown parameter given more than once <redacted> invalid key: prefix has an empty path component has a "." or ".." path component contains a control character not valid UTF-8 longer than 1024 bytes`

// A registry opens only the schemes it was given, and says which those
// are; a scheme given twice is a programming error.
func TestRegistry(t *testing.T) {
	r := objectstore.NewRegistry(filestore.Backend(), memstore.Backend())
	if _, err := r.ParseURL("s3://bucket/p"); err == nil || !strings.Contains(err.Error(), `unknown scheme "s3": use file or memory`) {
		t.Errorf("ParseURL(s3) on a file and memory registry = %v", err)
	}
	if _, err := r.ParseURL("bucket/p"); err == nil || !strings.Contains(err.Error(), "no scheme: use file:/// or memory://") {
		t.Errorf("ParseURL without a scheme = %v", err)
	}
	if _, err := s3store.ParseURL("gs://bucket/p"); err == nil || !strings.Contains(err.Error(), `unknown scheme "gs": use s3`) {
		t.Errorf("s3store.ParseURL(gs) = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("a scheme registered twice did not panic")
		}
	}()
	objectstore.NewRegistry(memstore.Backend(), memstore.Backend())
}
