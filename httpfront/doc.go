// Package httpfront serves stored trees to web browsers and HTTP clients:
// an http.Handler over a BlobService and a DirectoryService, as
// `castore serve --http-listen` and `castore http` run it.
//
// The URL space:
//
//	/b3/DIGEST/                  the directory DIGEST: a listing (HTML, or
//	                             JSON with Accept: application/json or
//	                             ?format=json), or its index file
//	/b3/DIGEST/path/to/file      a file of that tree (GET, HEAD, Range)
//	/b3/DIGEST/path/?format=tar  the directory as a tar (or tar.zst) stream
//	/blobs/DIGEST                a raw blob
//	/tags/NAME:/path             the tree (or file) tag NAME names, resolved
//	                             per request (Options.Refs): as /b3/, but
//	                             Cache-Control no-cache; ?resolve redirects
//	                             to the /b3/ URL. NAME ends at the first ':'
//	                             (tag names have none); /tags/NAME alone
//	                             redirects to /tags/NAME:/
//
// With ReadAllowed (tokens), a request also passes with a share token
// (?share=TOKEN, then a cookie limited to the token's path): an HMAC of a
// path and an expiry under Options.ShareKey, as `castore share` signs them
// (share.go). Refusals are logged, without the token.
//
// DIGEST is in any of the forms people have at hand: "b3:" and standard
// base64, as tvix prints it (its slashes are part of it: it has a fixed
// length); URL-safe base64, padded or not, with or without "b3:"; or 64
// hex characters. Everything under /b3/ and /blobs/ is immutable, and is
// served so: an ETag of the digest, Cache-Control immutable for a year.
//
// A file is read through the verifying reader of the blob service, with
// its size checked against the file node's; a blob that fails
// verification ends the response with a broken connection, never with
// wrong bytes. Symlinks that stay inside the tree redirect to their
// target; those that leave it (absolute, or climbing above the root) are
// shown and not followed. Paths are checked before anything is looked
// up: "." and ".." (however encoded), empty components, NUL, overlong
// UTF-8 and over-long paths are refused.
package httpfront
