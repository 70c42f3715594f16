package guard

import "time"

// Store is where a guard's state lives: a lock file on the host (the
// default, FileStore) or one etcd key for a whole fleet (EtcdStore). The
// policy (decide) is the same for every store; a store only reads state
// and writes what decide asks for, atomically against every other writer.
type Store interface {
	// Name identifies the guard in results and messages: the lock file's
	// path, the etcd key.
	Name() string
	// Read returns the guard as it is at now. An error means the state is
	// unknown: every caller treats it as locked.
	Read(now time.Time) (Status, error)
	// Update reads the state, calls decide on it and the time read from
	// now just after reading it, and writes the record decide returns (nil:
	// nothing to change), so that no other writer changes the state in
	// between. The time is taken after any wait for other writers: a lock
	// counted from before a long wait would be written shorter, even
	// already expired. decide may be called again on a newer state when
	// another writer got there first (etcd). A dry run decides and writes
	// nothing. After.Revision is the store's revision after the write.
	// When decide refuses, the error comes back unchanged with Before and
	// After the state it refused.
	Update(now func() time.Time, dryRun bool, decide func(cur Status, now time.Time) (*Record, error)) (Change, error)
}

// FileStore is the lock file at Guard.Path, serialised with flock on
// PATH.lock (see the package comment).
type FileStore struct{ g *Guard }

// Name is the lock file's path.
func (f FileStore) Name() string { return f.g.Path }

// Read reads the lock file.
func (f FileStore) Read(time.Time) (Status, error) {
	if err := f.g.checkPath(); err != nil {
		return Status{}, err
	}
	return f.g.read()
}

// Update decides on the file read under the writers' lock and writes the
// record atomically.
func (f FileStore) Update(clk func() time.Time, dryRun bool, decide func(cur Status, now time.Time) (*Record, error)) (Change, error) {
	if err := f.g.checkLockTimeout(); err != nil {
		return Change{}, err
	}
	before, release, err := f.g.readForWrite(dryRun)
	if err != nil {
		return Change{}, err
	}
	defer release()
	now := clk()
	rec, err := decide(before, now)
	if err != nil || rec == nil {
		return Change{Before: before, After: before}, err
	}
	if !dryRun {
		if err := f.g.write(*rec); err != nil {
			return Change{}, err
		}
	}
	return Change{Before: before, After: statusOf(f.g.Path, *rec, now), Changed: true}, nil
}
