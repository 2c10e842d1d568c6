package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/closure"
	"github.com/castore-go/castore/compose"
	"github.com/castore-go/castore/gc"
	"github.com/castore-go/castore/internal/testenv"
	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/filestore"
	"github.com/castore-go/castore/objectstore/s3store"
	"github.com/castore-go/castore/refstore"
)

// gcFixture is a store a gc test runs castore gc on: a chunked store with
// bundles on one object store URL, and a way to make its objects old.
type gcFixture struct {
	t     *testing.T
	c     *cli
	url   string // the object store's URL, without objectstore+
	store objectstore.Store
	grace time.Duration
	// age makes the objects under prefix older than the grace: back-dated
	// where the store lets a test, else waited for.
	age func(prefix string)
}

func (f *gcFixture) addrs() []string {
	return []string{"--blob-service-addr", "objectstore+" + f.url, "--directory-service-addr", "objectstore+" + f.url}
}

func gcWriteFile(t *testing.T, path string, size int, seed uint64) {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// importTree imports files (name -> size, seed) and returns the root node.
func (f *gcFixture) importTree(files map[string][2]int) castore.Node {
	f.t.Helper()
	src := f.t.TempDir()
	for name, fs := range files {
		gcWriteFile(f.t, filepath.Join(src, name), fs[0], uint64(fs[1]))
	}
	root := strings.TrimSpace(f.c.ok(append(append([]string{"import"}, f.addrs()...), src)...))
	d, err := castore.ParseDigest(root)
	if err != nil {
		f.t.Fatalf("import printed %q: %v", root, err)
	}
	svcs := f.services()
	defer svcs.Close()
	dir, err := svcs.Directories.Get(f.t.Context(), d)
	if err != nil {
		f.t.Fatal(err)
	}
	return dir.Node()
}

func (f *gcFixture) services() *compose.Services {
	f.t.Helper()
	svcs, err := compose.Open(f.t.Context(), compose.DefaultRegistry(), compose.Options{BlobServiceAddr: "objectstore+" + f.url, DirectoryServiceAddr: "objectstore+" + f.url})
	if err != nil {
		f.t.Fatal(err)
	}
	return svcs
}

func (f *gcFixture) keys(prefix string) []string {
	f.t.Helper()
	var ks []string
	for oi, err := range f.store.List(f.t.Context(), prefix) {
		if err != nil {
			f.t.Fatal(err)
		}
		if !strings.HasPrefix(oi.Key, "gc/") && !strings.HasPrefix(oi.Key, "refs/") {
			ks = append(ks, oi.Key)
		}
	}
	return ks
}

// readBack reads root's closure and every blob of it whole.
func (f *gcFixture) readBack(root castore.Node) error {
	svcs := f.services()
	defer svcs.Close()
	all, err := closure.Read(f.t.Context(), svcs.Directories, root.Digest)
	if err != nil {
		return err
	}
	for _, d := range all {
		for _, e := range d.Entries() {
			if e.Node.Type != castore.NodeFile {
				continue
			}
			r, err := castore.OpenSized(f.t.Context(), svcs.Blobs, e.Node.Digest, e.Node.Size)
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, r)
			r.Close()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *gcFixture) gc(args ...string) *gc.Stats {
	f.t.Helper()
	out := f.c.ok(append(append([]string{"gc", "--json", "--grace", f.grace.String()}, f.addrs()...), args...)...)
	var st gc.Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		f.t.Fatalf("gc --json printed %q: %v", out, err)
	}
	return &st
}

// testGCCommand: after tags are removed or expire, their unshared data
// goes and shared data stays; the remaining tag's closure reads back
// whole, and castore verify is clean. A dry run first changes nothing and
// says what goes.
func testGCCommand(t *testing.T, f *gcFixture) {
	ctx := t.Context()
	refs := refstore.NewObjectStore(f.store)
	a := f.importTree(map[string][2]int{"shared": {300 << 10, 1}, "a": {200 << 10, 2}, "small-a": {10, 3}})
	want := f.keys("")
	b := f.importTree(map[string][2]int{"shared": {300 << 10, 1}, "b": {250 << 10, 4}, "small-b": {20, 5}})
	c := f.importTree(map[string][2]int{"c": {100 << 10, 6}})
	for _, tag := range []castore.Tag{
		{Name: "keep/a", Root: a},
		{Name: "removed/b", Root: b},
		{Name: "expiring/c", Root: c, Expires: time.Now().Add(500 * time.Millisecond)},
	} {
		if _, err := refs.Set(ctx, tag, castore.ExpectAny); err != nil {
			t.Fatal(err)
		}
	}
	if err := refs.Delete(ctx, "removed/b", castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // expiring/c expires
	f.age("")
	before := f.keys("")

	dry := f.gc("--dry-run")
	if got := f.keys(""); !slices.Equal(got, before) {
		t.Fatalf("gc --dry-run changed the store")
	}
	if dry.Swept == 0 || dry.Expired != 1 {
		t.Errorf("dry run: %d objects would go, %d expired tags; want some and 1", dry.Swept, dry.Expired)
	}
	code, _, errs := f.c.run(nil, append([]string{"gc", "--dry-run", "--grace", f.grace.String()}, f.addrs()...)...)
	if code != 0 || !strings.Contains(errs, "would move to trash") || !strings.Contains(errs, "chunks/b3/") {
		t.Errorf("gc --dry-run's summary (exit %d) does not say what would go by prefix:\n%s", code, errs)
	}

	st := f.gc()
	if st.Swept != dry.Swept || st.SweptBytes != dry.SweptBytes {
		t.Errorf("the run moved %d objects (%d bytes), the dry run said %d (%d)", st.Swept, st.SweptBytes, dry.Swept, dry.SweptBytes)
	}
	if _, err := refs.Get(ctx, "expiring/c"); err == nil {
		t.Error("the expired tag is still there")
	}
	if err := f.readBack(a); err != nil {
		t.Fatalf("the kept tag's tree after gc: %v", err)
	}
	f.age(gc.PrefixTrash)
	st = f.gc()
	if st.Reclaimed == 0 {
		t.Errorf("the second run reclaimed nothing: %+v", st)
	}
	if got := f.keys(""); !slices.Equal(got, want) {
		t.Errorf("left after gc:\n%v\nwant exactly the kept tree's:\n%v", got, want)
	}
	if err := f.readBack(a); err != nil {
		t.Fatalf("the kept tag's tree at the end: %v", err)
	}
	if code, _, errs := f.c.run(nil, append([]string{"verify"}, f.addrs()...)...); code != 0 {
		t.Errorf("castore verify after gc: exit %d\n%s", code, errs)
	}
}

func fileFixture(t *testing.T) *gcFixture {
	dir := t.TempDir()
	fs, err := filestore.New(dir, &filestore.Options{Sync: filestore.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	f := &gcFixture{t: t, c: newCLI(t), url: "file://" + dir, store: fs, grace: time.Hour}
	f.age = func(prefix string) {
		for oi, err := range fs.List(t.Context(), prefix) {
			if err != nil {
				t.Fatal(err)
			}
			if err := fs.SetModTime(oi.Key, time.Now().Add(-3*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

func minioFixture(t *testing.T) *gcFixture {
	m := testenv.MinIO(t)
	m.SetEnv(t)
	prefix := strings.ReplaceAll(t.Name(), "/", "-")
	s, err := s3store.New(m.Client(), m.Bucket, prefix)
	if err != nil {
		t.Fatal(err)
	}
	// MinIO's times are its own: objects get old by waiting, past a small
	// grace (and a second for whole-second times).
	f := &gcFixture{t: t, c: newCLI(t), url: m.URL(prefix), store: s, grace: 2 * time.Second}
	f.age = func(string) { time.Sleep(f.grace + 2*time.Second) }
	return f
}

func TestGCCommandFile(t *testing.T)  { testGCCommand(t, fileFixture(t)) }
func TestGCCommandMinIO(t *testing.T) { testGCCommand(t, minioFixture(t)) }

// gc refuses a blob service that is not a chunked store on an object
// store, and a grace that is not positive.
func TestGCCommandRefuses(t *testing.T) {
	c := newCLI(t)
	if code, _, errs := c.run(nil, "gc", "--blob-service-addr", "memory://", "--directory-service-addr", "memory://"); code != 1 || !strings.Contains(errs, "chunked blob store") {
		t.Errorf("gc on memory: exit %d\n%s", code, errs)
	}
	if code, _, _ := c.run(nil, "gc", "--grace", "0s", "--data-dir", t.TempDir()); code != 2 {
		t.Errorf("gc --grace 0s: exit %d, want 2", code)
	}

}

// A gc killed by SIGKILL mid-sweep and run again: nothing live lost,
// nothing dead left once its trash is old.
func TestGCKilledMidSweep(t *testing.T) {
	f := fileFixture(t)
	ctx := t.Context()
	keep := f.importTree(map[string][2]int{"k": {300 << 10, 1}, "s": {2000, 2}})
	refs := refstore.NewObjectStore(f.store)
	if _, err := refs.Set(ctx, castore.Tag{Name: "keep", Root: keep}, castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	want := f.keys("")
	files := map[string][2]int{"s": {2000, 2}}
	for i := range 1500 {
		files[filepath.Join(fmt.Sprint(i%20), fmt.Sprint(i))] = [2]int{1000 + i, 10 + i}
	}
	f.importTree(files)
	f.age("")

	cmd := castoreCommand(append([]string{"gc", "--grace", "1h", "--concurrency", "2"}, f.addrs()...)...)
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline) && !killed; time.Sleep(5 * time.Millisecond) {
		n := 0
		for _, err := range f.store.List(ctx, gc.PrefixTrash) {
			if err == nil {
				n++
			}
		}
		if n >= 100 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err := <-exited
	if !killed {
		t.Fatalf("gc was not killed mid-sweep (it exited: %v)\n%s", err, stderr.String())
	}
	if len(f.keys(gc.PrefixTrash)) >= 1500 {
		t.Fatalf("gc had finished the sweep before the kill")
	}
	if err := f.readBack(keep); err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	st := f.gc()
	if st.Swept == 0 {
		t.Error("the second run moved nothing: the kill left nothing to finish?")
	}
	f.age(gc.PrefixTrash)
	f.gc()
	if got := f.keys(""); !slices.Equal(got, want) {
		t.Errorf("after the killed run and two more: %d objects left, want the %d of the kept tree", len(got), len(want))
	}
	if err := f.readBack(keep); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := f.c.run(nil, append([]string{"verify"}, f.addrs()...)...); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, errs)
	}
}

// renderedGC renders the chart with gc on and returns the CronJob's
// container args and the ConfigMap's gc.yaml.
func renderedGC(t *testing.T, inline string) (args []string, config string) {
	t.Helper()
	chart := filepath.Join(testenv.RepoRoot(t), "helm", "castore")
	values := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(values, []byte(inline), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := exec.Command(testenv.Tool(t, "helm"), "template", "castore", chart, "--kube-version", "1.31.0", "-f", values)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home, "KUBECONFIG="+home+"/kubeconfig")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(out), -1) {
		var d struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
			Spec struct {
				JobTemplate struct {
					Spec struct {
						Template struct {
							Spec struct {
								Containers []struct {
									Args []string `yaml:"args"`
								} `yaml:"containers"`
							} `yaml:"spec"`
						} `yaml:"template"`
					} `yaml:"spec"`
				} `yaml:"jobTemplate"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		switch d.Kind {
		case "ConfigMap":
			config = d.Data["gc.yaml"]
		case "CronJob":
			args = d.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		}
	}
	if args == nil || config == "" {
		t.Fatalf("no CronJob or gc.yaml rendered")
	}
	return args, config
}

// TestChartGCRuns runs castore gc in process with the arguments and the
// composition the chart gives its CronJob (paths moved to temporary
// directories), on a file:// store: the flags parse, the config opens,
// and the run collects: an untagged old tree goes to trash, the tagged one
// stays.
func TestChartGCRuns(t *testing.T) {
	f := fileFixture(t)
	args, config := renderedGC(t, fmt.Sprintf("storage:\n  blobs: {url: %q}\ngc: {enabled: true, grace: 1h}\n", f.url))
	cfg := filepath.Join(t.TempDir(), "gc.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	scratch := t.TempDir()
	var moved []string
	for _, a := range args {
		switch {
		case a == "--config=/etc/castore/config/gc.yaml":
			a = "--config=" + cfg
		case a == "--temp-dir=/scratch":
			a = "--temp-dir=" + scratch
		}
		moved = append(moved, a)
	}
	if slices.Equal(moved, args) {
		t.Fatalf("nothing moved in %q", args)
	}
	keep := f.importTree(map[string][2]int{"k": {100 << 10, 1}})
	if _, err := refstore.NewObjectStore(f.store).Set(t.Context(), castore.Tag{Name: "keep", Root: keep}, castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	f.importTree(map[string][2]int{"dead": {100 << 10, 2}})
	f.age("")
	code, _, errs := f.c.run(nil, moved...)
	if code != 0 {
		t.Fatalf("castore %s: exit %d\n%s", strings.Join(moved, " "), code, errs)
	}
	if len(f.keys(gc.PrefixTrash)) == 0 {
		t.Errorf("the chart's gc moved nothing to trash:\n%s", errs)
	}
	if err := f.readBack(keep); err != nil {
		t.Fatal(err)
	}
}

// A run's metrics go to a Pushgateway (--metrics-push), and --json counts
// its object store calls by op.
func TestGCMetricsPushed(t *testing.T) {
	f := fileFixture(t)
	keep := f.importTree(map[string][2]int{"k": {100 << 10, 1}})
	if _, err := refstore.NewObjectStore(f.store).Set(t.Context(), castore.Tag{Name: "keep", Root: keep}, castore.ExpectAny); err != nil {
		t.Fatal(err)
	}
	f.importTree(map[string][2]int{"dead": {100 << 10, 2}})
	f.age("")
	var mu sync.Mutex
	var pushed []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pushed = append(pushed, r.Method+" "+r.URL.Path+"\n"+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	out := f.c.ok(append([]string{"gc", "--json", "--grace", "1h", "--metrics-push", srv.URL}, f.addrs()...)...)
	var st struct {
		Swept int64            `json:"swept"`
		Calls map[string]int64 `json:"object_store_calls"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	if st.Swept == 0 || st.Calls["list"] == 0 || st.Calls["delete"] < st.Swept {
		t.Errorf("swept %d with calls %v: want lists and a delete per object swept", st.Swept, st.Calls)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(pushed) != 1 || !strings.HasPrefix(pushed[0], "PUT /metrics/job/castore_gc") {
		t.Fatalf("pushes: %q", pushed)
	}
	// The body is protobuf-delimited; the metric names are in it as text.
	for _, name := range []string{"castore_gc_runs", "castore_gc_swept_objects", "castore_gc_duration_seconds", "castore_objectstore_calls"} {
		if !strings.Contains(pushed[0], name) {
			t.Errorf("the push lacks %s", name)
		}
	}
}

// On the embedded default (--data-dir: blobs in pack files, directories
// and tags in bolt files), gc deletes by tombstone and then compacts the
// packs: the bytes of an untagged tree go, the tagged tree exports whole,
// and verify is clean.
func TestGCCommandDataDir(t *testing.T) {
	c := newCLI(t)
	data := t.TempDir()
	keepSrc, deadSrc := t.TempDir(), t.TempDir()
	gcWriteFile(t, filepath.Join(keepSrc, "k"), 600<<10, 1)
	gcWriteFile(t, filepath.Join(deadSrc, "d"), 3<<20, 2)
	c.ok("import", "--data-dir", data, "--tag", "keep", keepSrc)
	c.ok("import", "--data-dir", data, deadSrc)
	// A pack's time is its file's when the store opens: back-date them all.
	age := func() {
		packs, _ := filepath.Glob(filepath.Join(data, "packs", "*.pack"))
		for _, p := range packs {
			old := time.Now().Add(-3 * time.Hour)
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	packBytes := func() int64 {
		var n int64
		packs, _ := filepath.Glob(filepath.Join(data, "packs", "*.pack"))
		for _, p := range packs {
			if fi, err := os.Stat(p); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	age()
	before := packBytes()
	var st gc.Stats
	if err := json.Unmarshal([]byte(c.ok("gc", "--data-dir", data, "--grace", "1h", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Swept == 0 {
		t.Fatalf("nothing swept: %+v", st)
	}
	age()
	if err := json.Unmarshal([]byte(c.ok("gc", "--data-dir", data, "--grace", "1h", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Reclaimed == 0 || st.CompactedBytes <= 0 {
		t.Errorf("second run reclaimed %d objects, compacted %d bytes", st.Reclaimed, st.CompactedBytes)
	}
	if after := packBytes(); after > before-(2<<20) {
		t.Errorf("packs %d -> %d bytes: the dead tree's 3 MiB are still there", before, after)
	}
	out := t.TempDir()
	c.ok("export", "--data-dir", data, "tag:keep", filepath.Join(out, "x"))
	got, err := os.ReadFile(filepath.Join(out, "x", "k"))
	if err != nil || len(got) != 600<<10 {
		t.Errorf("the tagged tree exported: %d bytes, %v", len(got), err)
	}
	if code, _, errs := c.run(nil, "verify", "--data-dir", data); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, errs)
	}
}
