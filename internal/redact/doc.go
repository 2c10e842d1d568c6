// Package redact decides what of a URL may go into an error message or a
// log line: the one redactor for object store URLs, service addresses and
// gRPC addresses alike. Each caller says which query values it may show.
package redact
