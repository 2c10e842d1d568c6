// Package s3store is the object store in an S3 bucket, or in any
// S3-compatible service (MinIO, Ceph, R2), and its s3:// URLs:
//
//	s3://bucket/prefix?region=..&endpoint=..&force_path_style=true
//
// Credentials come from the AWS SDK's default chain (environment, shared
// config, web identity, instance metadata), never from the URL.
package s3store
