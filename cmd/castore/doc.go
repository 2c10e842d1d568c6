// Command castore is the one castore binary: a gRPC server (serve) and the
// client commands that put trees in and get them out (import, export, ls,
// cat, stat, copy, mount, http). `castore COMMAND --help` documents each;
// every flag can also come from an environment variable.
//
// Every command opens its stores through compose: a config file, service
// URLs, or the embedded stores of a data directory; mount puts compose's
// local cache in front of them. The commands themselves are thin: serving
// is grpcapi's (and httpfront's), importing and exporting ingest's,
// mounting fusefront's.
//
// Exit codes: 0 success, 1 failure, 2 usage error.
package main
