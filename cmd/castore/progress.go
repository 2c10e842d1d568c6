package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/castore-go/castore/ingest"
)

// showProgress draws p on w, at most every half second, until stop is
// called, when w is a terminal: the files and bytes so far and the rate,
// and once the total is known (an export or a copy knows it when it has
// read the closure, before any data moves; an import never) a bar with the
// percentage and the time left. stop clears the line.
func showProgress(w io.Writer, p *ingest.Progress) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		bar, total := newProgressBar(w, 0, "0 files "), int64(0) // total bytes; 0 while unknown
		// Polled more often than drawn, so a bar made when the total
		// turns up starts its clock and rate with the data.
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				bar.Finish() // clears the line
				return
			case <-t.C:
			}
			tb, tf := p.TotalBytes.Load(), p.TotalFiles.Load()
			files := fmt.Sprintf("%d files ", p.Files.Load())
			if tb > 0 {
				files = fmt.Sprintf("%d/%d files ", p.Files.Load(), tf)
			}
			if total == 0 && tb > 0 {
				bar.Finish()
				bar, total = newProgressBar(w, tb, files), tb
			}
			// Drawn by the first of the two that the half-second
			// throttle lets through.
			bar.Set64(p.Bytes.Load())
			bar.Describe(files)
		}
	}()
	return func() { close(done); <-finished }
}

// newProgressBar starts a bar of total bytes that fits the terminal w, or
// for a total <= 0 a spinner with the bytes, rate and time so far, each
// after desc. It is drawn only when told, at most every half second, and
// starts no goroutine of its own.
func newProgressBar(w io.Writer, total int64, desc string) *progressbar.ProgressBar {
	if total <= 0 {
		total = -1
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionShowCount(),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetPredictTime(total > 0),
		progressbar.OptionSetElapsedTime(total <= 0),
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(500*time.Millisecond),
	)
	bar.StartWithoutRender()
	return bar
}

// statusLine rewrites one line of w every second with what line returns
// (nothing while it returns ""), and clears it at stop: on a terminal;
// elsewhere it prints nothing.
func statusLine(w io.Writer, line func() string) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				if l := line(); l != "" {
					fmt.Fprint(w, "\r\033[K"+l)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
