package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// CleanBinaryCache runs a test binary's tests and then removes the entries
// the tests added to the action plugins' default binary cache in this user's
// home (~/.cache/threader.guard/<sha256>), leaving entries that were there
// before. HOME itself cannot be swapped for the tests: ansible-core resolves
// remote paths such as ~/.ansible_async with the user's real home.
//
// make test runs several test binaries at once that use this one cache (the
// main suite's tests/ and the ansible-core matrix's copies of it), with the
// same collection, so the same entry. The clean-up must wait until the last
// of them ends: a binary that ended first and removed the entry would pull it
// from under another's running task (found, checked, then gone when run), or
// make it send the binary again. So each binary holds a shared flock on a
// file in UserStateDir (users) while its tests run; the first in (it gets
// users exclusively) records what the cache held, and the last out (it gets
// users exclusively again) removes what is not in that record. Joining and
// leaving take a second lock (gate) exclusively, so that no one joins or
// leaves while another decides whether it is the first or the last.
func CleanBinaryCache(m *testing.M) int {
	home, err := os.UserHomeDir()
	if err != nil {
		return m.Run()
	}
	cache := filepath.Join(home, ".cache", "threader.guard")
	dir, err := UserStateDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v; entries the tests add to %s stay\n", err, cache)
		return m.Run()
	}
	u, err := joinCacheUsers(cache, dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tests: %v; entries the tests add to %s stay\n", err, cache)
		return m.Run()
	}
	code := m.Run()
	u.leave()
	return code
}

// cacheUser is one test binary among those that use the cache.
type cacheUser struct {
	gate, users   *os.File
	cache, record string
}

// joinCacheUsers joins the users of cache, coordinating in dir; the first
// in records the cache's entries.
func joinCacheUsers(cache, dir string) (*cacheUser, error) {
	gate, err := openLockFile(filepath.Join(dir, "binary-cache.gate"))
	if err != nil {
		return nil, err
	}
	users, err := openLockFile(filepath.Join(dir, "binary-cache.users"))
	if err != nil {
		gate.Close()
		return nil, err
	}
	u := &cacheUser{gate: gate, users: users, cache: cache, record: filepath.Join(dir, "binary-cache.before")}
	flock(gate, syscall.LOCK_EX)
	defer flock(gate, syscall.LOCK_UN)
	if flock(users, syscall.LOCK_EX|syscall.LOCK_NB) == nil { // first in
		writeCacheRecord(cache, u.record)
	}
	flock(users, syscall.LOCK_SH)
	return u, nil
}

// leave leaves the users of the cache; the last out removes the entries
// added since the first came in.
func (u *cacheUser) leave() {
	defer u.gate.Close()
	defer u.users.Close()
	flock(u.gate, syscall.LOCK_EX)
	defer flock(u.gate, syscall.LOCK_UN)
	flock(u.users, syscall.LOCK_UN)
	if flock(u.users, syscall.LOCK_EX|syscall.LOCK_NB) == nil { // last out
		removeAddedEntries(u.cache, u.record)
		flock(u.users, syscall.LOCK_UN)
	}
}

func flock(f *os.File, how int) error { return syscall.Flock(int(f.Fd()), how) }

// writeCacheRecord writes the names of the cache's entries to record, one a
// line, and "missing" when there is no cache directory yet.
func writeCacheRecord(cache, record string) {
	var lines []string
	entries, err := os.ReadDir(cache)
	if os.IsNotExist(err) {
		lines = append(lines, "missing")
	}
	for _, e := range entries {
		lines = append(lines, "entry "+e.Name())
	}
	tmp := record + ".tmp"
	if os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o600) == nil {
		os.Rename(tmp, record)
	}
}

// removeAddedEntries removes the cache's entries that record does not name,
// and the cache directory if it was missing and is empty now, then the
// record. Without a record (the first in could not write it), nothing is
// removed.
func removeAddedEntries(cache, record string) {
	data, err := os.ReadFile(record)
	if err != nil {
		return
	}
	before := map[string]bool{}
	missing := false
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(line, "entry "); ok {
			before[name] = true
		}
		missing = missing || line == "missing"
	}
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if !before[e.Name()] {
			os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
	if missing {
		os.Remove(cache) // only if empty
	}
	os.Remove(record)
}
