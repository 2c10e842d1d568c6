// Package gcsstore is the object store in a Google Cloud Storage bucket,
// and its gs:// URLs:
//
//	gs://bucket/prefix
//
// Credentials are Application Default Credentials, with
// STORAGE_EMULATOR_HOST honoured (fake-gcs-server in the tests), never
// from the URL.
package gcsstore
