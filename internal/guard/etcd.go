package guard

import (
	"context"
	"encoding/json"
	"time"

	"github.com/threader/guard/internal/guard/etcdstore"
)

// EtcdStore keeps the guard in one etcd key (package etcdstore), shared by
// every controller that names the same cluster and scope.
//
// What differs from the lock file, and why:
//   - Revision is the key's mod revision: cluster-wide and only growing, a
//     fencing token. An unlock deletes the key (an unlocked guard is
//     revision 0); no tombstone is needed against ABA, because a key
//     created again gets a higher mod revision than any before it.
//   - The record's expiry is authoritative. The key's lease (the window
//     plus a margin) only removes it once nobody could still count it as
//     locked, so a key that outlives its lease's TTL reads as expired.
//   - A value that is not a valid record counts as locked (from each read
//     for CorruptLockGrace), with a warning, until it is unlocked or its
//     lease removes it.
//   - When etcd cannot answer, Read and Update fail with an
//     *etcdstore.UnavailableError: the state is unknown, never unlocked.
type EtcdStore struct{ kv *etcdstore.Store }

// OpenEtcd checks cfg and returns the store; it connects on first use.
// Config errors are *fielderr.Error.
func OpenEtcd(cfg etcdstore.Config) (*EtcdStore, error) {
	kv, err := etcdstore.Open(cfg)
	if err != nil {
		return nil, err
	}
	return &EtcdStore{kv: kv}, nil
}

// Close ends the connection.
func (e *EtcdStore) Close() error { return e.kv.Close() }

// Name is the etcd key.
func (e *EtcdStore) Name() string { return e.kv.Key() }

// Read reads the key, linearizably.
func (e *EtcdStore) Read(now time.Time) (Status, error) {
	v, err := e.kv.Get(context.Background())
	if err != nil {
		return Status{}, err
	}
	return e.statusOf(v, now), nil
}

func (e *EtcdStore) statusOf(v etcdstore.Value, now time.Time) Status {
	if !v.Exists {
		return Status{Path: e.Name()}
	}
	st := parseLockFile(e.Name(), v.Data, now, now)
	st.Revision = v.ModRevision
	return st
}

// Update decides on the key read and writes in one transaction that
// compares the mod revision read; when another writer got there first it
// decides again on the new state.
func (e *EtcdStore) Update(clk func() time.Time, dryRun bool, decide func(cur Status, now time.Time) (*Record, error)) (Change, error) {
	var rec *Record
	now := clk()
	before, after, err := e.kv.Update(context.Background(), dryRun, func(v etcdstore.Value) (etcdstore.Write, error) {
		var err error
		now = clk() // after the read this attempt decides on
		rec, err = decide(e.statusOf(v, now), now)
		if err != nil || rec == nil {
			return etcdstore.Write{}, err
		}
		return e.write(*rec, now)
	})
	b := e.statusOf(before, now)
	switch {
	case err != nil:
		return Change{Before: b, After: b}, err
	case rec == nil:
		return Change{Before: b, After: b}, nil
	case dryRun:
		return Change{Before: b, After: e.predicted(*rec, now), Changed: true}, nil
	}
	return Change{Before: b, After: e.statusOf(after, now), Changed: true}, nil
}

// write turns a record into the etcd write: a release deletes the key, a
// lock puts the record with a lease for the rest of its window. The
// revision in the value is 0: the key's mod revision is the revision.
func (e *EtcdStore) write(rec Record, now time.Time) (etcdstore.Write, error) {
	if !rec.UnlockedAt.IsZero() {
		return etcdstore.Write{Delete: true}, nil
	}
	rec.Revision = 0
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return etcdstore.Write{}, err
	}
	return etcdstore.Write{Put: true, Data: data, TTL: rec.ExpiresAt.Sub(now)}, nil
}

// predicted is what a dry run would leave: the revision is not known
// before etcd assigns it, so it is the one decide computed.
func (e *EtcdStore) predicted(rec Record, now time.Time) Status {
	if !rec.UnlockedAt.IsZero() {
		return Status{Path: e.Name()}
	}
	return statusOf(e.Name(), rec, now)
}
