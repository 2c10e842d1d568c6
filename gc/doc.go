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
// G is the grace, F = G/2 the writers' freshen age, σ = 1 s the slack
// (times in whole seconds on S3), S a bound on the skew of a writer's
// clock against the store's, δ the time between a candidate's copy to
// trash and its delete (a few requests).
//
//   - A1, writers are quick: a writer sets the tag that needs an object
//     at most D after it first relies on the object (or on an object that
//     names it), with D + S <= G/2 and D + δ <= G/2 + σ. With the default
//     grace of 24 h, an import that dedups against an old chunk must set
//     its tag within about 12 hours.
//   - A2, clocks: a writer's clock is within S of the store's. GC uses
//     none of its own: M is the store's time of gc/mark.
//   - A3, consistency: a listing or Head that starts after a write has
//     returned sees it (S3 since 2020, GCS, local disks); a put-if-absent
//     that finds an object means the object was there then; a tag Set
//     that returned before the tags are listed is listed.
//   - A4, touches: a Touch that has returned is seen by every later Head
//     and listing, and a Touch, or a Head, of a missing object fails (the
//     writer then writes the object again instead of relying on it).
//
// # The argument
//
// Claim: no run deletes for good an object a tag reaches, or will reach
// once set by a writer keeping the rule. Let run R empty trash/K: trash/K
// is older than M_R - G - σ, and no tag R listed reaches K, directly or
// through a parent that survived R's level above (survivors make what
// they name live). Let T reach K, set at t_s by a writer that relied on K
// (or on the parent it reaches K through; read K as that parent) at t_r,
// with evidence at t_e of K's time >= t_r - F - S. T was not listed by
// R, so t_s > M_R (A3), and t_s <= t_r + D (A1).
//
// K went to trash in an earlier run J: copied at T_K (trash/K's time),
// its time looked at again at b_J > T_K and found older than M_J - G - σ,
// then deleted. Either the writer's evidence came before b_J, and b_J saw
// it (A4): t_r - F - S - σ < M_J - G - σ, so t_r < M_J - G/2 + S and
// t_s < M_J - G/2 + S + D <= M_J: T was set before J listed its tags and
// J would have kept K. Or it came after b_J: after the delete, a Head or
// Touch fails and the writer does not rely on K (A4); before it, this is
// the race below, t_e < T_K + δ, and the writer trusts it at most F, so
// t_s <= t_r + D <= t_e + F + D < T_K + δ + F + D <= T_K + G + σ < M_R:
// T was set before R listed its tags. Both contradict; the claim holds.
// Each step above is what a run does; nothing relies on a run finishing,
// and runs may overlap (the chart runs one at a time to save work).
//
// The race. Between GC's second look at K's time and its delete a
// writer's touch can land and succeed, and K is deleted although the
// writer relies on it: S3 has no delete conditional on a time. K is then
// in trash, not lost: the next run finds it live and restores it (the
// argument's second case). Until then a reader of that tag misses K. The
// window is one request's time, for a candidate (an object nothing has
// named for a whole grace period) that a writer touches at that moment.
//
// Stores without times. Directories in an embedded (bbolt) store have no
// times: they are deleted only when not live and naming a blob or a
// directory no longer stored (DirectorySweeper), which no tag could be set
// on; the bolt file is one process's at a time, so no writer adds one
// meanwhile. A pack store deletes by tombstone; after the sweep a run
// compacts it (objectstore.Compacter) to reclaim the bytes. Not collected:
// Bigtable's directories (walked, never deleted); a dry run does not
// estimate the embedded directories.
//
// Tests, a step each: the live sets spill and stay exact (TestDigestSet,
// TestCollectSpilling); candidates by time and liveness, expired and
// removed tags' data going, shared data staying, trash waiting and then
// emptied (TestCollect); survivors keeping what they name
// (TestYoungSurvivorsKeepWhatTheyName); the second look keeping a touched
// candidate (TestTouchedCandidateKept); the race restored from trash
// (TestRaceRestoredFromTrash); the mark reading through trash
// (TestMarkReadsThroughTrash); an incomplete mark, or none, deleting
// nothing (TestIncompleteMarkDeletesNothing, TestNoTagsDeletesNothing);
// the conditional delete of an expired tag (TestExpiredTagSetAgainWins);
// dry runs (TestDryRun); a stopped run finished by the next
// (TestResumable). Writers' freshening is tested in chunkstore, dirstore
// and the storetest suite (Touch, ModTime); imports racing runs of a small
// grace on file:// and MinIO in TestRaceFile and TestRaceMinIO; castore gc
// killed by SIGKILL mid-sweep in cmd/castore's TestGCKilledMidSweep.
package gc
