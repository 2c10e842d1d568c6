package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ttlValue is a flag of a time to live: a Go duration (90m, 1h30m) or a
// whole number of days (30d).
type ttlValue struct{ d *time.Duration }

func (v ttlValue) String() string {
	if v.d == nil || *v.d == 0 {
		return ""
	}
	if *v.d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(*v.d/(24*time.Hour)), 10) + "d"
	}
	return v.d.String()
}

func (v ttlValue) Set(s string) error {
	d, err := parseTTL(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// parseTTL parses a time to live: positive, a Go duration or Nd.
func parseTTL(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil || n <= 0 || n > 100*366 {
			return 0, fmt.Errorf("%q is not a time to live: N days is a whole number from 1 to 36600", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a time to live: give a duration such as 90m, 12h or 30d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("time to live %q is not positive", s)
	}
	return d, nil
}
