package testenv

import (
	"context"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MinIOServer is a MinIO server started by MinIO for one test, holding one
// bucket.
type MinIOServer struct {
	// Endpoint is the S3 endpoint, http://127.0.0.1:<port>.
	Endpoint string
	// AccessKey and SecretKey are the server's random root credentials.
	AccessKey, SecretKey string
	// Bucket exists when MinIO returns.
	Bucket string
	// Region is the region to sign requests for.
	Region string

	proc *process
}

// MinIO starts bin/minio on a free loopback port with its data in a
// temporary directory, creates a bucket, and kills the server when the
// test ends.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin := Tool(t, "minio")
	dir := t.TempDir()
	port := FreePort(t)
	m := &MinIOServer{
		Endpoint:  "http://" + hostPort(port),
		AccessKey: "castore" + randomHex(6),
		SecretKey: randomHex(20),
		Bucket:    RandomName("castore-test-"),
		Region:    "us-east-1",
	}
	m.proc = &process{
		t:    t,
		name: "minio",
		bin:  bin,
		args: []string{"server", "--quiet", "--address", hostPort(port),
			"--certs-dir", filepath.Join(dir, "certs"), filepath.Join(dir, "data")},
		env: []string{
			"MINIO_ROOT_USER=" + m.AccessKey,
			"MINIO_ROOT_PASSWORD=" + m.SecretKey,
			"MINIO_BROWSER=off",
			"MINIO_UPDATE=off",
			"MINIO_REGION=" + m.Region,
			"MINIO_CI_CD=on",
		},
		logPath: filepath.Join(dir, "minio.log"),
		ready:   m.ready,
	}
	t.Cleanup(m.proc.stop)
	m.proc.start()

	if _, err := m.Client().CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(m.Bucket)}); err != nil {
		t.Fatalf("creating bucket %s on MinIO: %v", m.Bucket, err)
	}
	return m
}

// ready reports whether the server serves S3 calls. Liveness alone is not
// enough: a restarted MinIO answers /minio/health/live while S3 calls
// still get 503 "Server not initialized yet", so it also wants write
// quorum (/minio/health/cluster) and an answered ListBuckets.
func (m *MinIOServer) ready(ctx context.Context) error {
	if err := httpReady(m.Endpoint + "/minio/health/cluster")(ctx); err != nil {
		return err
	}
	_, err := m.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
	return err
}

// Stop kills the server as a crash would and waits for it to exit.
func (m *MinIOServer) Stop() { m.proc.stop() }

// Start restarts a stopped server on the same port and data, and waits
// until it is ready.
func (m *MinIOServer) Start() {
	m.proc.t.Helper()
	m.proc.start()
}

// PID returns the server's process id, or 0 while it is stopped.
func (m *MinIOServer) PID() int { return m.proc.pid() }

// Client returns an S3 client for the server with its root credentials.
func (m *MinIOServer) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       m.Region,
		BaseEndpoint: aws.String(m.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(m.AccessKey, m.SecretKey, ""),
	})
}

// URL returns the objectstore URL of prefix in the bucket. Credentials are
// not part of it: set them with SetEnv.
func (m *MinIOServer) URL(prefix string) string {
	q := url.Values{}
	q.Set("endpoint", m.Endpoint)
	q.Set("region", m.Region)
	q.Set("force_path_style", "true")
	u := url.URL{Scheme: "s3", Host: m.Bucket, Path: "/" + prefix, RawQuery: q.Encode()}
	return u.String()
}

// SetEnv points the AWS SDK's default credential chain at the server's
// credentials for the rest of the test (t.Setenv, so not for parallel
// tests).
func (m *MinIOServer) SetEnv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", m.Region)
	// Keep the SDK away from the developer's own profiles and from
	// instance metadata.
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// CreateBucket creates another bucket on the server.
func (m *MinIOServer) CreateBucket(ctx context.Context, t testing.TB, name string) {
	t.Helper()
	if _, err := m.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
}
