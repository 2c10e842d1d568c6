//go:build !linux

package filestore

import "os"

func openUnnamed(string) (*os.File, error) { return nil, errNoUnnamed }

func linkUnnamed(*os.File, string) error { return errNoUnnamed }

func canUnnamed(string) bool { return false }
