package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/castore-go/castore/objectstore"
	"github.com/castore-go/castore/objectstore/internal/bucket"
)

// Location is a parsed s3:// URL.
type Location struct {
	// Bucket and Prefix locate the store; Prefix has no leading or
	// trailing '/'.
	Bucket, Prefix string
	// Region, Endpoint and ForcePathStyle configure the client. Empty
	// Region and Endpoint leave them to the SDK's configuration.
	Region, Endpoint string
	ForcePathStyle   bool
}

// Backend is the s3 scheme, for an objectstore.Registry.
func Backend() objectstore.Backend {
	return objectstore.Backend{
		Scheme: "s3",
		Form:   "s3://",
		Params: []string{"region", "endpoint", "force_path_style"},
		Parse: func(u *url.URL, q url.Values) (objectstore.Location, error) {
			return parse(u, q)
		},
	}
}

var (
	regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

func parse(u *url.URL, q url.Values) (Location, error) {
	var loc Location
	var err error
	if loc.Bucket, loc.Prefix, err = bucket.ParseURL(u, bucketRE); err != nil {
		return Location{}, err
	}
	loc.Region = q.Get("region")
	if loc.Region != "" && !regionRE.MatchString(loc.Region) {
		return Location{}, errors.New("region is not a region name (lowercase letters, digits and '-')")
	}
	if v := q.Get("endpoint"); v != "" {
		e, err := url.Parse(v)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil || e.RawQuery != "" || e.Fragment != "" {
			return Location{}, errors.New("endpoint must be an http:// or https:// URL with a host and nothing after the path")
		}
		loc.Endpoint = v
	}
	if v := q.Get("force_path_style"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Location{}, errors.New("force_path_style must be true or false")
		}
		loc.ForcePathStyle = b
	}
	return loc, nil
}

// ParseURL parses and checks an s3:// URL without opening it.
func ParseURL(rawURL string) (Location, error) {
	loc, err := objectstore.NewRegistry(Backend()).ParseURL(rawURL)
	if err != nil {
		return Location{}, err
	}
	return loc.(Location), nil
}

// Open opens the store an s3:// URL names; see Location.Open.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return loc.open(ctx)
}

// String returns the URL of the location, as ParseURL accepts it.
func (l Location) String() string {
	q := url.Values{}
	if l.Region != "" {
		q.Set("region", l.Region)
	}
	if l.Endpoint != "" {
		q.Set("endpoint", l.Endpoint)
	}
	if l.ForcePathStyle {
		q.Set("force_path_style", "true")
	}
	return bucket.String("s3", l.Bucket, l.Prefix, q)
}

// errNoRegion is returned when neither the URL nor the SDK's configuration
// names a region.
var errNoRegion = errors.New("no region: add ?region= to the URL or set AWS_REGION")

// Open builds an S3 client from the SDK's default configuration and the
// location. It does not contact the service.
func (l Location) Open(ctx context.Context) (objectstore.Store, error) {
	s, err := l.open(ctx)
	if err != nil {
		return nil, err // not a nil *Store in a non-nil Store
	}
	return s, nil
}

func (l Location) open(ctx context.Context) (*Store, error) {
	var opts []func(*config.LoadOptions) error
	if l.Region != "" {
		opts = append(opts, config.WithRegion(l.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 store %q: loading AWS configuration: %w", l.Bucket, err)
	}
	if cfg.Region == "" {
		if l.Endpoint == "" {
			return nil, fmt.Errorf("s3 store %q: %w", l.Bucket, errNoRegion)
		}
		cfg.Region = "us-east-1" // what S3-compatible services expect by default
	}
	switch hc := cfg.HTTPClient.(type) {
	case nil:
		cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(keepIdle)
	case *awshttp.BuildableClient: // the SDK's, perhaps with a CA bundle
		cfg.HTTPClient = hc.WithTransportOptions(keepIdle)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if l.Endpoint != "" {
			o.BaseEndpoint = aws.String(l.Endpoint)
		}
		o.UsePathStyle = l.ForcePathStyle
		// Multipart objects carry composite checksums the SDK cannot
		// check on GET; it would log a warning for every such read.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return New(client, l.Bucket, l.Prefix)
}

// idleConns is how many idle connections to the service a store keeps
// for reuse. A chunked store has hundreds of requests in flight at once
// (chunkstore's Missing asks 256 digests at once; puts follow the
// clients); the SDK's default of 10 per host closed all but 10 after each
// burst and dialed anew for the next, a round trip more each (two or
// three with TLS): an import of GOROOT through a frontend left over 20,000
// connections in TIME_WAIT.
const idleConns = 512

func keepIdle(tr *http.Transport) {
	tr.MaxIdleConns = idleConns
	tr.MaxIdleConnsPerHost = idleConns
}
