// Package gc is garbage collection of a chunked store on an object store:
// it deletes the chunks, blob indexes and directory bundles that no
// unexpired tag reaches, and expired tags, while writers keep writing.
//
// # What is collected
//
// The data prefixes of the store (chunkfmt, dirstore.Bundles):
//
//	dirs/b3/    closure bundles, keyed by their root        level 1
//	blobs/b3/   blob indexes, naming their chunks           level 2
//	chunks/b3/, chunk/b3/   chunks (tvix's and snix's)      level 3
//
// and GC's own trash/ (a quarantine: trash/<key> holds a deleted <key>)
// and gc/ (a marker object, below). refs/ and anything else is never
// touched. Each level names objects of the next, never of its own or an
// earlier one, and a run sweeps the levels in that order.
//
// # A run
//
//  1. Start of mark M: GC puts gc/mark and reads back its modification
//     time, so M is in the store's clock, the clock every object time is
//     in (no assumption about GC's own clock).
//  2. Tags: every tag is listed (after M). An expired one is dead: it is
//     deleted, conditionally on it being exactly the tag as read
//     (castore.ExpectTag: same root, expiry and Updated), so a writer
//     that sets it again meanwhile wins. The others' roots are live.
//  3. Mark: each live root's closure (directories through the directory
//     service; a root bundle missing but in trash is restored first) adds
//     every directory digest to the live set of level 1 and every file's
//     blob digest to the blob set. The sets are sorted runs on disk
//     (liveset.go): memory is bounded by Options.RunSize digests
//     whatever the store's size, membership is exact. The mark must be
//     complete: any error reading a live closure, or a live root whose
//     bundle is neither there nor in trash, stops the run before anything
//     is deleted.
//  4. Sweep level 1 (bundles), then read the index of every blob of the
//     blob set (from trash if it is only there) into the chunk set, sweep
//     level 2 (indexes), then level 3 (chunks, whose live set is the chunk
//     set and the blob set: a blob of one chunk is its chunk). Sweeping a
//     level merges its listing, in key order, with its sorted live set:
//     an object that is not live and whose modification time is older
//     than M - grace (less one second for S3's whole-second times) is a
//     candidate. Every other object that survives a level is a root for
//     the next: the blobs of a surviving bundle and the chunks of a
//     surviving index are added to the next level's live set, whether
//     they are live or only young. So a writer needs to keep fresh only
//     the object it relies on directly, never what that object names.
//  5. Two-phase deletion. A candidate K is moved to trash: copied to
//     trash/K (server-side where the store can; the copy's time is now),
//     then K's time is read again and, if it changed (a writer touched or
//     rewrote K since the listing), trash/K is removed and K kept; else K
//     is deleted. In the same pass, each trash/K of the level is merged
//     with the live set: a live K is restored (copied back if K is
//     missing) and its trash entry removed; a dead one is deleted for
//     good once trash/K is older than M - grace (bytes reclaimed counts
//     these); younger ones wait for a later run.
//
// A run keeps no state outside the store. Killed at any point and run
// again, it marks afresh and finds what the last one left: a candidate
// copied to trash but not deleted is moved again (its trash entry's time
// only moves later); a trash entry is emptied or restored by the rule
// above. So runs are idempotent and a killed run is finished by the next.
//
// # Writers
//
// The rule for writers (chunkstore.Chunked, dirstore.Bundles and who sets
// tags): a writer that relies on an object being stored (it skips
// writing it because it is there: a put-if-absent that found it, a Has
// that answered yes, a "known stored" memory; or it writes something
// that names it: an index naming chunks, a directory naming a blob, a
// tag naming a root) must have seen, at the time it relies on it, that
// the object's time is no older than F = grace/2: it wrote or touched it
// itself less than F ago, or read its time (Head) and found it younger,
// or touched it now (objectstore.Touch, which fails with ErrNotFound if
// the object is gone, and then the writer writes it as if new). In the
// chunked store that is ChunkedOptions.FreshenAge (default 12 h, for the
// default grace of 24 h), and the known-chunks memory forgets a chunk's
// freshness after FreshenAge; castore.Freshen does it for a root before
// a tag is set on it without writing it.
//
// # Assumptions
//
//   - A1, writers are quick: a writer sets the tag that needs an object
//     at most D after it first relies on the object, and D <= grace/2 -
//     S - 1 s (below). An import that dedups against an old chunk at t
//     sets its tag by t + D. Defaults: grace 24 h, F 12 h, so D plus
//     skew must stay under about 12 h.
//   - A2, clocks: a writer's clock is within S of the store's (a writer
//     compares object times with its own clock; GC uses none).
//   - A3, consistency: a listing or Head that starts after a write has
//     returned sees it (S3 since 2020, GCS, local disks), and a tag Set
//     that returned before the tags are listed is listed.
//   - A4, a Touch that has returned is seen by every later Head and
//     listing, and a Touch of a missing object fails.
//
// # The argument
//
// Claim: no object that a tag listed by a later run reaches is deleted
// for good. Take an object K deleted from trash in run R: trash/K is
// older than M_R - grace and no tag listed in R reaches K. Let a tag T
// reach K and be set at t_s by a writer that relied on K at t_r, so
// t_s - t_r <= D (A1). T was not listed in R (else K would be live, or
// a parent of K would have been live or have survived, making K live at
// its level), so t_s > M_R (A3), and t_r > M_R - D.
//
// K was moved to trash in an earlier run J at T_K <= the time of trash/K
// < M_R - grace; J's check of K's time (step 5) at b_J <= T_K saw a time
// older than M_J - grace. The writer's evidence for K at t_e (t_r - F <=
// t_e <= t_r, and K's time >= t_r - F - S after it) came either after
// b_J or before it. After b_J but before K was deleted is the race a
// HEAD then DELETE cannot close on S3 (below); after the deletion the
// evidence was a Head or Touch, which failed (A4), so the writer did not
// rely on K. Before b_J, b_J saw K's time >= t_r - F - S (A4), older
// than M_J - grace, so t_r < M_J - grace + F + S = M_J - grace/2 + S,
// and then t_s <= t_r + D < M_J - 1 s: T was set before J listed its tags
// and J would have kept K. So only the race is left, and for it t_e is
// after T_K, so t_r >= T_K and t_s <= t_r + D... the writer's freshness
// of its evidence lasts at most F, so t_r <= T_K + F + (the race, a
// request's time), and t_s <= T_K + F + D + race < T_K + grace
// < M_R (as D < grace/2 - race): T was set before R listed its tags.
// Contradiction: R would have found K live. The same argument at each
// level, with "relied on K" replaced by "relied on a parent of K that
// survived the level above" (a surviving parent makes K live), covers
// objects named by others. So every deletion for good is safe; what a
// run moves to trash and a later tag reaches, a later run restores.
//
// The race. Between GC's second look at K's time and its delete, a
// writer's Touch can land and succeed, and K is then deleted although
// the writer relies on it; S3 has no delete conditional on a time. K is
// then in trash, not lost: the next run finds it live and restores it.
// Until then a reader of that tag misses K. The window is one request's
// time, per candidate a writer touches at that moment; a candidate is an
// object nothing has named for a whole grace period.
//
// Tests: each step has one (gc_test.go): the mark's sets and their
// memory bound, candidates by time and liveness, survivors protecting
// what they name, the trash move and its re-check, restore and emptying,
// expired tags and the conditional delete, dry runs; writers' freshening
// in chunkstore and dirstore; against MinIO and file://, a race of
// imports deduplicating against old objects with runs of a small grace,
// and a run killed by SIGKILL mid-sweep and run again (cmd/castore).
package gc
