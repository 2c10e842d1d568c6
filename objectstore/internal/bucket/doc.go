// Package bucket holds what the stores in a cloud bucket (s3store and
// gcsstore) share: the bucket and key prefix of their URLs, and readers
// whose errors name the object.
package bucket
