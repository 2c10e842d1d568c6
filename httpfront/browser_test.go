package httpfront_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/castore-go/castore/httpfront"
)

// chromium returns the path of a Chromium (or Chrome) to drive, failing
// the test with how to install one if there is none.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CASTORE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium to drive: apt-get install chromium (Debian; .ci/run installs it when missing), or set CASTORE_CHROMIUM to a Chromium or Chrome binary")
	return ""
}

// artifactDir is where a test keeps what it makes for people to look at:
// $CASTORE_ARTIFACTS/TEST if set, else the test's artifact directory
// (kept with go test -artifacts -outputdir DIR).
func artifactDir(t *testing.T) string {
	if dir := os.Getenv("CASTORE_ARTIFACTS"); dir != "" {
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.ArtifactDir()
}

// browser starts a headless Chromium and returns a context driving a tab
// of it.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // as root, in a container
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// steps runs actions in the tab, each batch within a minute.
func steps(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// value runs one action that returns something.
func value[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A person in Chromium: opens a tree's root listing, clicks into a
// directory, opens a file, and sees what they should; the listing's
// style applies under its CSP. Screenshots of two listings are kept.
func TestBrowser(t *testing.T) {
	f := newFixture(t, httpfront.Options{AutoIndex: true})
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx := browser(t)
	root := srv.URL + "/b3/" + f.root.String() + "/"

	steps(t, ctx, "open the root listing", chromedp.Navigate(root), chromedp.WaitVisible(chromedp.CSS("table")))
	title := value(t, ctx, chromedp.Title())
	rows := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`))
	firstRow := value(t, ctx, chromedp.Text(chromedp.CSS("tbody tr:first-child td.name")))
	if !strings.HasPrefix(title, f.root.String()[:14]) || rows != 12 || firstRow != "README.md" {
		t.Errorf("the root listing: title %q, %d rows, the first %q; want the digest, 12 rows, README.md", title, rows, firstRow)
	}
	if pos := value(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("th")).position`)); pos != "sticky" {
		t.Errorf("the listing's style does not apply (th is %q, not sticky): does the CSP refuse it?", pos)
	}

	steps(t, ctx, "click into docs/", chromedp.Click(chromedp.CSS(`a[href="./docs/"]`)), chromedp.WaitVisible(chromedp.CSS(`a[href="./page.txt"]`)))
	location := value(t, ctx, chromedp.Location())
	heading := value(t, ctx, chromedp.Text(chromedp.CSS("h1")))
	if location != root+"docs/" || !strings.Contains(heading, "docs") {
		t.Errorf("after clicking docs/: at %s, heading %q", location, heading)
	}

	steps(t, ctx, "open page.txt", chromedp.Click(chromedp.CSS(`a[href="./page.txt"]`)), chromedp.WaitReady(chromedp.CSS("body")))
	location = value(t, ctx, chromedp.Location())
	text := value(t, ctx, chromedp.Text(chromedp.CSS("body")))
	if location != root+"docs/page.txt" || strings.TrimSpace(text) != strings.TrimSpace(fixtureFiles["docs/page.txt"]) {
		t.Errorf("page.txt: at %s, showing %q", location, text)
	}

	// A symlink inside the tree leads to its target.
	steps(t, ctx, "follow lib/up", chromedp.Navigate(root+"lib/"), chromedp.WaitVisible(chromedp.CSS(`a[href="./up"]`)),
		chromedp.Click(chromedp.CSS(`a[href="./up"]`)), chromedp.WaitReady(chromedp.CSS("body")))
	if location = value(t, ctx, chromedp.Location()); location != root+"README.md" {
		t.Errorf("lib/up: at %s, want README.md", location)
	}

	// The pictures: the listing of lib/ sorted by kind, and the root.
	steps(t, ctx, "open lib/", chromedp.Navigate(root+"lib/?sort=kind"), chromedp.WaitVisible(chromedp.CSS("table")))
	saveArtifact(t, "listing-lib.png", value(t, ctx, chromedp.FullScreenshot(100)))
	steps(t, ctx, "open the root", chromedp.Navigate(root), chromedp.WaitVisible(chromedp.CSS("table")))
	saveArtifact(t, "listing-root.png", value(t, ctx, chromedp.FullScreenshot(100)))
}

// A listing of 20,000 entries loads in Chromium whole, sorts and filters
// without script.
func TestBrowserBigListing(t *testing.T) {
	dirs, root := bigDirectory(t, 20000)
	_, blobs, _ := newStores(t)
	srv := httptest.NewServer(httpfront.New(blobs, dirs, httpfront.Options{AutoIndex: true}))
	defer srv.Close()
	ctx := browser(t)
	u := srv.URL + "/b3/" + root.Hex() + "/"
	for _, c := range []struct {
		query string
		rows  int
		first string
	}{
		{"", 20000, "entry-000000.o"},
		{"?sort=size&order=desc", 20000, "entry-019998.o"}, // the last symlink, then the files
		{"?q=entry-0199", 100, "entry-019900.o"},
	} {
		start := time.Now()
		steps(t, ctx, "open "+c.query, chromedp.Navigate(u+c.query), chromedp.WaitVisible(chromedp.CSS("tbody tr:last-child")))
		shown := time.Since(start)
		rows := value(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`))
		first := value(t, ctx, chromedp.Evaluate[string](`document.querySelector("tbody tr td.name").textContent`))
		if rows != c.rows || first != c.first {
			t.Errorf("%s: %d rows, the first %q; want %d, %q", c.query, rows, first, c.rows, c.first)
		}
		timing := value(t, ctx, chromedp.Evaluate[string](`(() => { const n = performance.getEntriesByType("navigation")[0]; return "response " + Math.round(n.responseEnd) + " ms, DOM " + Math.round(n.domInteractive) + " ms, loaded " + Math.round(n.loadEventEnd) + " ms" })()`))
		t.Logf("%s: %d rows shown in %v (%s)", c.query, rows, shown.Round(time.Millisecond), timing)
	}
	steps(t, ctx, "open the listing", chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS("table")))
	saveArtifact(t, "listing-20000.png", value(t, ctx, chromedp.CaptureScreenshot()))
}

func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	if len(data) == 0 {
		t.Fatalf("%s: empty", name)
	}
	p := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s (%d bytes)", p, len(data))
}
