package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/testenv"
)

func open(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Store) Value {
	t.Helper()
	v, err := s.Get(context.Background())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return v
}

// put writes data over whatever is there.
func put(t *testing.T, s *Store, data string, ttl time.Duration) Value {
	t.Helper()
	_, after, err := s.Update(context.Background(), false, func(Value) (Write, error) {
		return Write{Put: true, Data: []byte(data), TTL: ttl}, nil
	})
	if err != nil {
		t.Fatalf("Update(put %q): %v", data, err)
	}
	return after
}

func del(t *testing.T, s *Store) Value {
	t.Helper()
	_, after, err := s.Update(context.Background(), false, func(Value) (Write, error) { return Write{Delete: true}, nil })
	if err != nil {
		t.Fatalf("Update(delete): %v", err)
	}
	return after
}

// TestStoreOnSharedCluster runs the tests that do not disturb the cluster
// on one cluster, each under its own scope.
func TestStoreOnSharedCluster(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{})
	eps := c.Endpoints()
	t.Run("seen through another endpoint", func(t *testing.T) {
		a := open(t, Config{Endpoints: eps[:1], Scope: "visible"})
		b := open(t, Config{Endpoints: eps[2:], Scope: "visible"})
		if v := get(t, b); v.Exists || v.ModRevision != 0 {
			t.Fatalf("fresh key = %+v, want absent with revision 0", v)
		}
		w := put(t, a, "one", time.Minute)
		v := get(t, b)
		if !v.Exists || string(v.Data) != "one" || v.ModRevision != w.ModRevision || v.Lease == 0 || v.Lease != w.Lease {
			t.Fatalf("read through another endpoint = %+v, want what was written: %+v", v, w)
		}
		if a.Key() != DefaultPrefix+"visible" {
			t.Fatalf("key %q", a.Key())
		}
	})
	t.Run("revisions only grow, through delete and re-create", func(t *testing.T) {
		s := open(t, Config{Endpoints: eps, Scope: "aba"})
		first := put(t, s, "a", time.Minute)
		gone := del(t, s)
		if gone.Exists || gone.ModRevision <= first.ModRevision {
			t.Fatalf("delete = %+v after %+v, want absent at a higher revision", gone, first)
		}
		if v := get(t, s); v.Exists {
			t.Fatalf("after delete: %+v", v)
		}
		again := put(t, s, "a", time.Minute)
		if again.ModRevision <= gone.ModRevision {
			t.Fatalf("re-created at revision %d, not above the delete's %d: a stale revision could match", again.ModRevision, gone.ModRevision)
		}
	})
	t.Run("a writer that lost the race decides again on the new state", func(t *testing.T) {
		a := open(t, Config{Endpoints: eps[:1], Scope: "race"})
		b := open(t, Config{Endpoints: eps[1:2], Scope: "race"})
		var seen []string
		_, after, err := a.Update(context.Background(), false, func(cur Value) (Write, error) {
			seen = append(seen, string(cur.Data))
			if len(seen) == 1 {
				put(t, b, "from b", time.Minute) // b writes between a's read and a's transaction
			}
			return Write{Put: true, Data: []byte(string(cur.Data) + "+a"), TTL: time.Minute}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) != 2 || seen[1] != "from b" || string(after.Data) != "from b+a" {
			t.Fatalf("decide saw %q and wrote %q; want a second decision on b's value", seen, after.Data)
		}
		if v := get(t, b); string(v.Data) != "from b+a" {
			t.Fatalf("stored %q", v.Data)
		}
	})
	t.Run("dry run and no-op never write", func(t *testing.T) {
		s := open(t, Config{Endpoints: eps, Scope: "dry"})
		w := put(t, s, "x", time.Minute)
		for _, dry := range []bool{true, false} {
			_, after, err := s.Update(context.Background(), dry, func(Value) (Write, error) {
				if dry {
					return Write{Delete: true}, nil
				}
				return Write{}, nil
			})
			if err != nil || after.ModRevision != w.ModRevision {
				t.Fatalf("dry=%v: after %+v, %v; want unchanged at %d", dry, after, err, w.ModRevision)
			}
		}
		if v := get(t, s); v.ModRevision != w.ModRevision {
			t.Fatalf("key moved to %d", v.ModRevision)
		}
	})
	t.Run("decide errors come back and nothing is written", func(t *testing.T) {
		s := open(t, Config{Endpoints: eps, Scope: "refuse"})
		boom := errors.New("refused")
		if _, _, err := s.Update(context.Background(), false, func(Value) (Write, error) { return Write{Put: true}, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if v := get(t, s); v.Exists {
			t.Fatalf("written: %+v", v)
		}
	})
	t.Run("the lease removes the key with no client alive", func(t *testing.T) {
		s := open(t, Config{Endpoints: eps, Scope: "lease", LeaseMargin: time.Second})
		w := put(t, s, "short", time.Second)
		if ttl, err := s.LeaseTTL(context.Background(), w); err != nil || ttl <= 0 || ttl > 3*time.Second {
			t.Fatalf("lease TTL %s, %v; want at most the window plus the margin (2 s, etcd's minimum)", ttl, err)
		}
		s.Close() // no client of this store is left
		reader := open(t, Config{Endpoints: eps[1:], Scope: "lease"})
		// 120 s only bounds a broken test: etcd renews every lease when a
		// leader is elected, which a loaded machine makes happen more often.
		deadline := time.Now().Add(120 * time.Second)
		for get(t, reader).Exists {
			if time.Now().After(deadline) {
				t.Fatal("key still present 120 s after its lease's TTL")
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	t.Run("a replaced value's lease is revoked", func(t *testing.T) {
		s := open(t, Config{Endpoints: eps, Scope: "revoke"})
		first := put(t, s, "1", time.Hour)
		second := put(t, s, "2", time.Hour)
		if ttl, err := s.LeaseTTL(context.Background(), first); err != nil || ttl != -1*time.Second {
			t.Fatalf("old lease TTL %s, %v; want revoked (-1s)", ttl, err)
		}
		if ttl, err := s.LeaseTTL(context.Background(), second); err != nil || ttl < time.Hour {
			t.Fatalf("new lease TTL %s, %v; want the window plus the margin", ttl, err)
		}
	})
	t.Run("concurrent writers through different endpoints all land, one at a time", func(t *testing.T) {
		const writers = 12
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(Config{Endpoints: eps[i%3 : i%3+1], Scope: "counter", Timeout: 60 * time.Second})
				if err != nil {
					errs <- err
					return
				}
				defer s.Close()
				_, _, err = s.Update(context.Background(), false, func(cur Value) (Write, error) {
					n := 0
					fmt.Sscan(string(cur.Data), &n)
					return Write{Put: true, Data: []byte(fmt.Sprint(n + 1)), TTL: time.Minute}, nil
				})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if v := get(t, open(t, Config{Endpoints: eps, Scope: "counter"})); string(v.Data) != fmt.Sprint(writers) {
			t.Fatalf("counter = %q, want %d: an update was lost", v.Data, writers)
		}
	})
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := []struct {
		cfg   Config
		field string
		not   string // must not appear in the message
	}{
		{Config{}, FieldEndpoints, ""},
		{Config{Endpoints: []string{"127.0.0.1:2379"}}, FieldEndpoints, ""},
		{Config{Endpoints: []string{"ftp://h:1"}}, FieldEndpoints, ""},
		{Config{Endpoints: []string{"http://h"}}, FieldEndpoints, ""},
		{Config{Endpoints: []string{"http://h:1/v3"}}, FieldEndpoints, ""},
		{Config{Endpoints: []string{"http://u:s3cret@h:1"}}, FieldEndpoints, "s3cret"},
		{Config{Endpoints: []string{"http://h:1", "https://h:2"}}, FieldEndpoints, ""},
		{Config{Endpoints: []string{"http://h:1"}, Prefix: "x/"}, FieldPrefix, ""},
		{Config{Endpoints: []string{"http://h:1"}, Prefix: "/a b/"}, FieldPrefix, ""},
		{Config{Endpoints: []string{"http://h:1"}, Scope: "a/b"}, FieldScope, ""},
		{Config{Endpoints: []string{"http://h:1"}, Scope: ".."}, FieldScope, ""},
		{Config{Endpoints: []string{"http://h:1"}, Username: "u"}, FieldPassword, ""},
		{Config{Endpoints: []string{"http://h:1"}, Password: "s3cret"}, FieldUsername, "s3cret"},
		{Config{Endpoints: []string{"http://h:1"}, CACert: "/ca.pem"}, FieldCACert, ""},
		{Config{Endpoints: []string{"https://h:1"}, ClientCert: "/c.pem"}, FieldClientKey, ""},
		{Config{Endpoints: []string{"https://h:1"}, CACert: "/nonexistent/ca.pem"}, FieldCACert, ""},
		{Config{Endpoints: []string{"http://h:1"}, Timeout: -time.Second}, FieldTimeout, ""},
	}
	for _, tc := range cases {
		_, err := Open(tc.cfg)
		var fe *fielderr.Error
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Open(%+v) = %v, want a *fielderr.Error for %s", tc.cfg, err, tc.field)
			continue
		}
		if tc.not != "" && strings.Contains(err.Error(), tc.not) {
			t.Errorf("error %q shows the secret", err)
		}
	}
}
