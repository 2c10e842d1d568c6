package deploy

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/castore-go/castore/internal/testenv"
)

// The chart's default image is the one `make image` tags, so an image
// built here and pushed as the README says is what a default install
// pulls; and it runs the image as the image's own user.
func TestChartImage(t *testing.T) {
	cmd := exec.Command("make", "-s", "--no-print-directory", "image-name")
	cmd.Dir = testenv.RepoRoot(t)
	for _, kv := range os.Environ() {
		// A make variable from the environment would change the answer.
		if k, _, _ := strings.Cut(kv, "="); k != "IMAGE" && k != "IMAGE_REPO" && k != "VERSION" && k != "MAKEFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make image-name: %v", err)
	}
	made := strings.TrimSpace(string(out))
	ds := find[*appsv1.Deployment](render(t, "", ""))
	if len(ds) != 1 {
		t.Fatalf("%d Deployments", len(ds))
	}
	pod := ds[0].Spec.Template.Spec
	if got := pod.Containers[0].Image; got != made {
		t.Errorf("the chart's default image is %q; make image tags %q", got, made)
	}
	// The Dockerfile's USER.
	if sc := pod.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || sc.RunAsGroup == nil || *sc.RunAsGroup != 65532 {
		t.Errorf("the chart does not run the image as 65532:65532: %+v", sc)
	}
}
