package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestBadFlags(t *testing.T) {
	if err := run([]string{"--users", "nopassword"}); err == nil {
		t.Error("a user without a password was accepted")
	}
	bad := filepath.Join(t.TempDir(), "wf.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"--workflows", bad}); err == nil {
		t.Error("a bad workflows file was accepted")
	}
}
