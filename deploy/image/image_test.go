//go:build imagecheck

package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/castore-go/castore"
	"github.com/castore-go/castore/grpcapi"
)

// setting is one of the values make image-check passes in the environment.
func setting(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run this check with make image-check", name)
	}
	return v
}

// The image's fixed facts: what the Dockerfile and rootfs.sh make.
const (
	user       = "65532:65532"
	uid        = 65532
	entrypoint = "/usr/local/bin/castore"
	source     = "https://github.com/castore-go/castore"
	// maxCompressed bounds the compressed layers (17 MiB at 0.1.0: a
	// 50 MiB binary with the cloud SDKs).
	maxCompressed = 40 << 20
)

// want is every file of the image, merged over its layers: type, mode
// and owner. Anything else, a shell above all, fails the check.
var want = map[string]struct {
	typ  byte
	mode int64
	uid  int
}{
	"etc":                               {tar.TypeDir, 0o755, 0},
	"etc/group":                         {tar.TypeReg, 0o644, 0},
	"etc/nsswitch.conf":                 {tar.TypeReg, 0o644, 0},
	"etc/passwd":                        {tar.TypeReg, 0o644, 0},
	"etc/ssl":                           {tar.TypeDir, 0o755, 0},
	"etc/ssl/certs":                     {tar.TypeDir, 0o755, 0},
	"etc/ssl/certs/ca-certificates.crt": {tar.TypeReg, 0o644, 0},
	"tmp":                               {tar.TypeDir, 0o1777, 0},
	"var":                               {tar.TypeDir, 0o755, 0},
	"var/cache":                         {tar.TypeDir, 0o755, 0},
	"data":                              {tar.TypeDir, 0o755, uid},
	"var/cache/castore":                 {tar.TypeDir, 0o755, uid},
	"usr":                               {tar.TypeDir, 0o755, 0},
	"usr/local":                         {tar.TypeDir, 0o755, 0},
	"usr/local/bin":                     {tar.TypeDir, 0o755, 0},
	"usr/local/bin/castore":             {tar.TypeReg, 0o755, 0},
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
}

type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Created      string `json:"created"`
	Config       struct {
		User       string            `json:"User"`
		Env        []string          `json:"Env"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

type file struct {
	hdr  *tar.Header
	data []byte
}

// image is an OCI archive read whole: every blob is checked against its
// digest and every layer against its diff ID.
type image struct {
	digest  string // the manifest's: the image digest a registry shows
	refName string
	layers  []descriptor
	config  imageConfig
	// unpacked[i] is the uncompressed size of layer i.
	unpacked []int64
	// files is the root filesystem: the layers applied in order.
	files map[string]file
}

func readArchive(t *testing.T, archive string) *image {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatalf("%v (make image writes it)", err)
	}
	defer f.Close()
	entries := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", archive, err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			entries[path.Clean(h.Name)] = b
		}
	}
	blob := func(d descriptor) []byte {
		t.Helper()
		hexd, ok := strings.CutPrefix(d.Digest, "sha256:")
		b, found := entries["blobs/sha256/"+hexd]
		if !ok || !found {
			t.Fatalf("%s: no blob %s", archive, d.Digest)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != hexd || int64(len(b)) != d.Size {
			t.Fatalf("%s: blob %s does not match its digest or size", archive, d.Digest)
		}
		return b
	}
	var index struct{ Manifests []descriptor }
	if err := json.Unmarshal(entries["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("%s: index.json: want one manifest, got %d (%v)", archive, len(index.Manifests), err)
	}
	img := &image{digest: index.Manifests[0].Digest, refName: index.Manifests[0].Annotations["org.opencontainers.image.ref.name"], files: map[string]file{}}
	var manifest struct {
		Config descriptor
		Layers []descriptor
	}
	if err := json.Unmarshal(blob(index.Manifests[0]), &manifest); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(blob(manifest.Config), &img.config); err != nil {
		t.Fatal(err)
	}
	img.layers = manifest.Layers
	if len(img.config.RootFS.DiffIDs) != len(img.layers) {
		t.Fatalf("%d layers, %d diff IDs", len(img.layers), len(img.config.RootFS.DiffIDs))
	}
	for i, l := range img.layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Fatalf("layer %d: media type %s, want gzip (a registry stores what it is given)", i, l.MediaType)
		}
		zr, err := gzip.NewReader(bytes.NewReader(blob(l)))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(raw); "sha256:"+hex.EncodeToString(sum[:]) != img.config.RootFS.DiffIDs[i] {
			t.Fatalf("layer %d does not match its diff ID", i)
		}
		img.unpacked = append(img.unpacked, int64(len(raw)))
		lr := tar.NewReader(bytes.NewReader(raw))
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %d: %v", i, err)
			}
			name := strings.Trim(path.Clean("/"+h.Name), "/")
			if name == "" {
				continue // the root directory, which the runtime owns
			}
			if strings.HasPrefix(path.Base(name), ".wh.") {
				t.Fatalf("layer %d: whiteout %s: nothing should be deleted", i, name)
			}
			data, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			img.files[name] = file{h, data}
		}
	}
	return img
}

func TestImage(t *testing.T) {
	archive := setting(t, "CASTORE_IMAGE_ARCHIVE")
	ref := setting(t, "CASTORE_IMAGE")
	version := setting(t, "CASTORE_IMAGE_VERSION")
	revision := setting(t, "CASTORE_IMAGE_REVISION")
	img := readArchive(t, archive)

	// The config: who runs what, and the labels.
	c := img.config.Config
	if img.refName != ref {
		t.Errorf("archive names the image %q, want %q", img.refName, ref)
	}
	if c.User != user {
		t.Errorf("User %q, want %q", c.User, user)
	}
	if !slices.Equal(c.Entrypoint, []string{entrypoint}) {
		t.Errorf("Entrypoint %q, want [%s]", c.Entrypoint, entrypoint)
	}
	if !slices.Equal(c.Cmd, []string{"serve", "--listen=:8000", "--insecure-listen", "--data-dir=/data"}) {
		t.Errorf("Cmd %q", c.Cmd)
	}
	if !slices.Contains(c.Env, "XDG_CACHE_HOME=/var/cache") {
		t.Errorf("Env %q has no XDG_CACHE_HOME=/var/cache", c.Env)
	}
	for k, v := range map[string]string{"source": source, "version": version, "revision": revision} {
		if got := c.Labels["org.opencontainers.image."+k]; got != v {
			t.Errorf("label org.opencontainers.image.%s = %q, want %q", k, got, v)
		}
	}
	if img.config.OS != "linux" {
		t.Errorf("os %q", img.config.OS)
	}

	// The files: exactly the expected ones, so no shell and no package
	// manager; writable only where castore writes.
	if len(img.layers) != 4 {
		t.Errorf("%d layers, want 4 (base, /data, /var/cache/castore, binary)", len(img.layers))
	}
	for name, f := range img.files {
		w, ok := want[name]
		switch {
		case slices.Contains([]string{"sh", "bash", "dash", "ash", "busybox", "toybox"}, path.Base(name)):
			t.Errorf("the image has a shell: /%s", name)
		case !ok:
			t.Errorf("unexpected file /%s", name)
		case f.hdr.Typeflag != w.typ || f.hdr.Mode&0o7777 != w.mode || f.hdr.Uid != w.uid || f.hdr.Gid != w.uid:
			t.Errorf("/%s: type %c mode %o owner %d:%d, want type %c mode %o owner %d:%d", name, f.hdr.Typeflag, f.hdr.Mode&0o7777, f.hdr.Uid, f.hdr.Gid, w.typ, w.mode, w.uid, w.uid)
		}
	}
	for name := range want {
		if _, ok := img.files[name]; !ok {
			t.Errorf("missing /%s", name)
		}
	}
	if !strings.Contains(string(img.files["etc/passwd"].data), "nonroot:x:65532:65532:nonroot:/data:") {
		t.Errorf("/etc/passwd has no nonroot user 65532 with home /data:\n%s", img.files["etc/passwd"].data)
	}
	if !bytes.Contains(img.files["etc/ssl/certs/ca-certificates.crt"].data, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Error("/etc/ssl/certs/ca-certificates.crt holds no certificate")
	}
	bin := img.files["usr/local/bin/castore"].data
	checkBinary(t, bin)
	if t.Failed() {
		t.FailNow()
	}
	var compressed, unpacked int64
	sizes := make([]string, len(img.layers))
	for i, l := range img.layers {
		compressed += l.Size
		unpacked += img.unpacked[i]
		sizes[i] = mib(l.Size)
	}
	if compressed > maxCompressed {
		t.Errorf("the image's layers take %s compressed, more than the %s this check allows", mib(compressed), mib(maxCompressed))
	}
	t.Logf("image %s", ref)
	t.Logf("  digest     %s", img.digest)
	t.Logf("  platform   %s/%s, created %s", img.config.OS, img.config.Architecture, img.config.Created)
	t.Logf("  user       %s (nonroot, home /data); entrypoint %q; cmd %q", c.User, c.Entrypoint, c.Cmd)
	t.Logf("  labels     version %s, revision %s, source %s", version, revision, source)
	t.Logf("  size       %s compressed, %s unpacked; %d layers: %s", mib(compressed), mib(unpacked), len(img.layers), strings.Join(sizes, ", "))
	t.Logf("  files      %d, no shell; static stripped binary of %s", len(img.files), mib(int64(len(bin))))

	runner := setting(t, "CASTORE_IMAGE_RUNNER")
	var r run
	switch runner {
	case "podman":
		r = podmanRunner(t, ref)
	case "chroot":
		r = chrootRunner(t, img)
	default:
		t.Fatalf("CASTORE_IMAGE_RUNNER=%q: podman or chroot", runner)
	}
	out, err := r.command("version")
	if err != nil {
		t.Fatalf("castore version in the image: %v\n%s", err, out)
	}
	if !strings.Contains(out, "version:  "+version+"\n") || !strings.Contains(out, "revision: "+revision+"\n") {
		t.Errorf("castore version in the image printed\n%s\nwant version %s and revision %s (the labels)", out, version, revision)
	}
	// Read-only: a data dir anywhere but the volume cannot be made.
	out, err = r.command("serve", "--listen=127.0.0.1:0", "--data-dir=/var/lib/castore")
	if err == nil || !strings.Contains(out, "read-only file system") {
		t.Errorf("castore serve --data-dir=/var/lib/castore in the image: %v\n%s\nwant a read-only file system error", err, out)
	}
	exercise(t, r)
}

// checkBinary: static, stripped, built without cgo and paths.
func checkBinary(t *testing.T, bin []byte) {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/usr/local/bin/castore: %v", err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("/usr/local/bin/castore is dynamically linked: it needs a loader the image does not have")
		}
	}
	if ef.Section(".symtab") != nil {
		t.Error("/usr/local/bin/castore is not stripped (-ldflags -s)")
	}
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/usr/local/bin/castore: %v", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if settings[k] != v {
			t.Errorf("castore was built with %s=%q, want %q", k, settings[k], v)
		}
	}
	// -trimpath leaves -ldflags out of the build info: running castore
	// version checks the version and revision.
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// run is a way of running the image: command runs castore ARGS to its end;
// serve starts castore serve ARGS with the host directory data as /data,
// and returns a stop that sends SIGTERM and returns the exit code, and
// the output so far.
type run struct {
	how     string
	command func(args ...string) (string, error)
	serve   func(data string, args ...string) (stop func() (int, error), logs func() string)
}

// podmanRunner runs the image with podman on the host network, with a
// read-only root filesystem (and no tmpfs on /tmp, /run or /var/tmp), no
// capabilities and no new privileges, as the image's user. CASTORE_PODMAN
// is the podman command with its store flags, CASTORE_PODMAN_RUN_FLAGS
// the flags this machine needs to run a container at all (see the
// Makefile).
func podmanRunner(t *testing.T, ref string) run {
	podman := strings.Fields(setting(t, "CASTORE_PODMAN"))
	runFlags := strings.Fields(os.Getenv("CASTORE_PODMAN_RUN_FLAGS"))
	base := append(append([]string{"run"}, runFlags...),
		"--read-only", "--read-only-tmpfs=false", "--cap-drop=all", "--security-opt=no-new-privileges")
	pm := func(args ...string) *exec.Cmd {
		return exec.Command(podman[0], append(slices.Clone(podman[1:]), args...)...)
	}
	name := fmt.Sprintf("castore-imagecheck-%d", os.Getpid())
	return run{
		how: "podman run " + strings.Join(append(runFlags, "--network=host --read-only --read-only-tmpfs=false --cap-drop=all --security-opt=no-new-privileges -v DATA:/data"), " "),
		command: func(args ...string) (string, error) {
			out, err := pm(append(append(slices.Clone(base), "--rm", "--network=none", ref), args...)...).CombinedOutput()
			return string(out), err
		},
		serve: func(data string, args ...string) (func() (int, error), func() string) {
			pm("rm", "-f", name).Run()
			out, err := pm(append(append(slices.Clone(base), "-d", "--name", name, "--network=host", "-v", data+":/data", ref), args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("podman run: %v\n%s", err, out)
			}
			t.Cleanup(func() { pm("rm", "-f", name).Run() })
			logs := func() string { out, _ := pm("logs", name).CombinedOutput(); return string(out) }
			stop := func() (int, error) {
				if out, err := pm("stop", "-t", "30", name).CombinedOutput(); err != nil {
					return -1, fmt.Errorf("podman stop: %v\n%s", err, out)
				}
				out, err := pm("inspect", "--format", "{{.State.ExitCode}}", name).Output()
				if err != nil {
					return -1, err
				}
				var code int
				_, err = fmt.Sscan(string(out), &code)
				return code, err
			}
			return stop, logs
		},
	}
}

// chrootRunner unpacks the image's root filesystem and runs its entrypoint
// chrooted into it as the image's user, with the image's environment, in
// a mount namespace where the root is bind-mounted read-only and data is
// bound on /data: for machines where no container runtime works. Needs
// root (for the owners, the mounts and the chroot).
func chrootRunner(t *testing.T, img *image) run {
	if os.Geteuid() != 0 {
		t.Fatal("CASTORE_IMAGE_RUNNER=chroot needs root (sudo make image-check IMAGE_RUNNER=chroot)")
	}
	root := t.TempDir()
	names := make([]string, 0, len(img.files))
	for name := range img.files {
		names = append(names, name)
	}
	slices.Sort(names) // parents first
	for _, name := range names {
		f, p := img.files[name], filepath.Join(root, name)
		var err error
		switch f.hdr.Typeflag {
		case tar.TypeDir:
			err = os.Mkdir(p, 0o700)
		case tar.TypeReg:
			err = os.WriteFile(p, f.data, 0o600)
		default:
			t.Fatalf("/%s: type %c not unpacked here", name, f.hdr.Typeflag)
		}
		if err == nil {
			err = os.Chown(p, f.hdr.Uid, f.hdr.Gid)
		}
		if err == nil {
			err = os.Chmod(p, fs.FileMode(f.hdr.Mode&0o777)|modeBits(f.hdr.Mode))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	env := append(slices.Clone(img.config.Config.Env), "HOME=/data")
	const script = `set -e
root=$1 data=$2 user=$3; shift 3
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
if [ -n "$data" ]; then mount --bind "$data" "$root/data"; fi
exec chroot --userspec="$user" --groups="${user#*:}" "$root" "$@"`
	cmd := func(data string, args ...string) *exec.Cmd {
		c := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", root, data, img.config.Config.User}, append(slices.Clone(img.config.Config.Entrypoint), args...)...)...)
		c.Env = env
		return c
	}
	return run{
		how: "unshare --mount, the unpacked root bind-mounted read-only, DATA bound on /data, chroot --userspec=" + img.config.Config.User,
		command: func(args ...string) (string, error) {
			out, err := cmd("", args...).CombinedOutput()
			return string(out), err
		},
		serve: func(data string, args ...string) (func() (int, error), func() string) {
			c := cmd(data, args...)
			var out syncBuffer
			c.Stdout, c.Stderr = &out, &out
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			t.Cleanup(func() { c.Process.Kill() })
			stop := func() (int, error) {
				// unshare, sh and chroot exec in turn: the process is castore.
				c.Process.Signal(syscall.SIGTERM)
				select {
				case err := <-done:
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						return ee.ExitCode(), nil
					}
					return 0, err
				case <-time.After(30 * time.Second):
					return -1, errors.New("did not stop within 30s of SIGTERM")
				}
			}
			return stop, out.String
		},
	}
}

// modeBits maps the setuid, setgid and sticky bits of a tar mode to Go's.
func modeBits(m int64) fs.FileMode {
	var b fs.FileMode
	if m&0o4000 != 0 {
		b |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		b |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		b |= fs.ModeSticky
	}
	return b
}

// exercise serves from the image and checks it as a client would: health
// SERVING, a blob put and read back, metrics; then that everything it
// wrote is in /data and its user's, and that SIGTERM stops it cleanly.
func exercise(t *testing.T, r run) {
	data := t.TempDir()
	if err := os.Chown(data, uid, uid); err != nil {
		t.Fatal(err)
	}
	port, metricsPort := freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	started := time.Now()
	stop, logs := r.serve(data, "serve", "--listen="+addr, fmt.Sprintf("--metrics-listen=127.0.0.1:%d", metricsPort), "--data-dir=/data")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	status := healthpb.HealthCheckResponse_UNKNOWN
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		if err == nil {
			if status = resp.Status; status == healthpb.HealthCheckResponse_SERVING {
				break
			}
		}
	}
	if status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health %v after 60s, want SERVING\n%s", status, logs())
	}
	serving := time.Since(started)

	bc, err := grpcapi.Dial(ctx, "grpc+http://"+addr)
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	blobs := grpcapi.NewBlobClient(bc)
	blob := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{24}).Read(blob)
	w := blobs.Create(ctx)
	if _, err := w.Write(blob); err != nil {
		t.Fatalf("put: %v\n%s", err, logs())
	}
	d, err := w.Close()
	if err != nil {
		t.Fatalf("put: %v\n%s", err, logs())
	}
	if d != castore.Sum(blob) {
		t.Fatalf("put returned %s, want %s", d, castore.Sum(blob))
	}
	rd, err := blobs.Open(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(rd)
	rd.Close()
	if err != nil || !bytes.Equal(back, blob) {
		t.Fatalf("read back %d bytes (%v), want the %d put", len(back), err, len(blob))
	}

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("go_goroutines")) {
		t.Fatalf("GET /metrics: %s\n%.300s", resp.Status, body)
	}

	code, err := stop()
	if err != nil || code != 0 {
		t.Fatalf("on SIGTERM castore exited %d (%v), want 0\n%s", code, err, logs())
	}

	// Everything it wrote: under /data, as 65532.
	var files int
	var written int64
	filepath.WalkDir(data, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		info, _ := e.Info()
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != uid {
			t.Errorf("%s is owned by %d, not the image's user", p, st.Uid)
		}
		if e.Type().IsRegular() {
			files++
			written += info.Size()
		}
		return nil
	})
	if files == 0 {
		t.Errorf("nothing was written to /data\n%s", logs())
	}
	t.Logf("ran with %s", r.how)
	t.Logf("  castore version matches the labels; serve: SERVING after %s, put and read back a %s blob (%s), /metrics answered", serving.Round(10*time.Millisecond), mib(int64(len(blob))), d)
	t.Logf("  wrote %d files (%s) in /data, all the image user's; exit 0 on SIGTERM; a data dir outside /data: read-only file system", files, mib(written))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer is a bytes.Buffer that a process's output and the test may
// use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
