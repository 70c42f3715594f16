package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Test binaries that share the binary cache (each joinCacheUsers here has
// its own open files, so its own flocks, as a process would): the entries
// they add are removed only when the last of them leaves, and entries that
// were there before the first came in stay.
func TestCleanBinaryCacheWaitsForTheLastUser(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(t.TempDir(), "threader.guard")
	mkdirs(t, filepath.Join(cache, "old"))
	main, err := joinCacheUsers(cache, dir)
	if err != nil {
		t.Fatal(err)
	}
	matrix, err := joinCacheUsers(cache, dir)
	if err != nil {
		t.Fatal(err)
	}
	mkdirs(t, filepath.Join(cache, "new"))
	matrix.leave()
	for _, e := range []string{"old", "new"} {
		if _, err := os.Stat(filepath.Join(cache, e)); err != nil {
			t.Errorf("entry %s gone while another test binary runs: %v", e, err)
		}
	}
	late, err := joinCacheUsers(cache, dir) // joins while main runs: the record stays the first's
	if err != nil {
		t.Fatal(err)
	}
	main.leave()
	if _, err := os.Stat(filepath.Join(cache, "new")); err != nil {
		t.Errorf("entry new gone while a later test binary runs: %v", err)
	}
	late.leave()
	if _, err := os.Stat(filepath.Join(cache, "new")); !os.IsNotExist(err) {
		t.Errorf("entry new added by the tests stayed after the last left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "old")); err != nil {
		t.Errorf("entry old, there before the tests, was removed: %v", err)
	}

	// A cache the tests made is removed with its entries.
	os.RemoveAll(cache)
	alone, err := joinCacheUsers(cache, dir)
	if err != nil {
		t.Fatal(err)
	}
	mkdirs(t, filepath.Join(cache, "new"))
	alone.leave()
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("the cache the tests made stayed: %v", err)
	}
}

func mkdirs(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}
