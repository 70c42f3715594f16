package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threader/guard/internal/testenv"
)

// writeDuring runs writers that each put their own value, while disrupt
// acts on the cluster, and returns each writer's outcome.
func writeDuring(t *testing.T, eps []string, scope string, disrupt func()) (written []Value, failed []error) {
	t.Helper()
	const writers = 6
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(Config{Endpoints: eps[i%3 : i%3+1], Scope: scope, Timeout: 3 * time.Second})
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			<-start
			_, after, err := s.Update(context.Background(), false, func(Value) (Write, error) {
				return Write{Put: true, Data: []byte(fmt.Sprint("writer ", i)), TTL: time.Minute}, nil
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = append(failed, err)
			} else {
				written = append(written, after)
			}
		}()
	}
	close(start)
	disrupt()
	wg.Wait()
	return written, failed
}

// checkOutcome requires every failure to be an UnavailableError saying the
// state is unknown, and the key to hold the value of the success with the
// highest revision, at that revision.
func checkOutcome(t *testing.T, eps []string, scope string, written []Value, failed []error) {
	t.Helper()
	for _, err := range failed {
		var ue *UnavailableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "the guard's state is unknown") {
			t.Errorf("failure %v is not a clear 'state unknown' error", err)
		}
	}
	reader := open(t, Config{Endpoints: eps, Scope: scope, Timeout: 30 * time.Second})
	v := get(t, reader)
	var last Value
	for _, w := range written {
		if w.ModRevision > last.ModRevision {
			last = w
		}
	}
	if len(written) > 0 && (v.ModRevision < last.ModRevision || !v.Exists) {
		t.Fatalf("key = %+v; a write reported done at revision %d is not visible", v, last.ModRevision)
	}
	if len(written) > 0 && v.ModRevision == last.ModRevision && string(v.Data) != string(last.Data) {
		t.Fatalf("key holds %q at revision %d, the write reported there was %q", v.Data, v.ModRevision, last.Data)
	}
	t.Logf("%d writes landed, %d failed clearly", len(written), len(failed))
}

// TestLeaderKilledAndPausedDuringWrites: a write either lands and is
// visible, or fails saying the state is unknown; never reported done when
// it is not.
func TestLeaderKilledAndPausedDuringWrites(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{})
	eps := c.Endpoints()
	t.Run("SIGKILL", func(t *testing.T) {
		leader := c.Leader()
		written, failed := writeDuring(t, eps, "killed", func() { c.Kill(leader) })
		checkOutcome(t, eps, "killed", written, failed)
		c.Restart(leader)
		c.WaitHealthy()
	})
	t.Run("SIGSTOP", func(t *testing.T) {
		leader := c.Leader()
		written, failed := writeDuring(t, eps, "paused", func() { c.Pause(leader) })
		checkOutcome(t, eps, "paused", written, failed)
		// A write through a surviving endpoint gets through while the old
		// leader is still paused: the others elect a new one.
		var live []string
		for _, m := range c.Members {
			if m != leader {
				live = append(live, m.ClientURL)
			}
		}
		s := open(t, Config{Endpoints: live, Scope: "paused", Timeout: 30 * time.Second})
		after := put(t, s, "after the pause", time.Minute)
		c.Resume(leader)
		c.WaitHealthy()
		if v := get(t, open(t, Config{Endpoints: []string{leader.ClientURL}, Scope: "paused", Timeout: 30 * time.Second})); v.ModRevision != after.ModRevision {
			t.Fatalf("the resumed member reads %+v, want revision %d", v, after.ModRevision)
		}
	})
}

// TestQuorumLostFailsClosedAndStateSurvives: with two of three members
// down every operation fails within the timeout, saying the state is
// unknown; once they are back the earlier value is there, unchanged.
func TestQuorumLostFailsClosedAndStateSurvives(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{})
	eps := c.Endpoints()
	s := open(t, Config{Endpoints: eps, Scope: "quorum", Timeout: 2 * time.Second})
	before := put(t, s, "locked before the outage", time.Hour)
	down := c.Followers()
	for _, m := range down {
		c.Kill(m)
	}
	ops := map[string]func() error{
		"get": func() error { _, err := s.Get(context.Background()); return err },
		"put": func() error {
			_, _, err := s.Update(context.Background(), false, func(Value) (Write, error) {
				return Write{Put: true, Data: []byte("during"), TTL: time.Hour}, nil
			})
			return err
		},
		"delete": func() error {
			_, _, err := s.Update(context.Background(), false, func(Value) (Write, error) { return Write{Delete: true}, nil })
			return err
		},
		"fresh client": func() error {
			_, err := open(t, Config{Endpoints: eps, Scope: "quorum", Timeout: 2 * time.Second}).Get(context.Background())
			return err
		},
	}
	for name, op := range ops {
		var err error
		testenv.Within(t, 20*time.Second, func() { err = op() }) // the timeout is 2 s; 20 s only guards against a hang
		var ue *UnavailableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "the guard's state is unknown") {
			t.Fatalf("%s without quorum: %v; want an UnavailableError saying the state is unknown", name, err)
		}
	}
	for _, m := range down {
		c.Restart(m)
	}
	c.WaitHealthy()
	after := get(t, open(t, Config{Endpoints: eps, Scope: "quorum", Timeout: 30 * time.Second}))
	if after.ModRevision != before.ModRevision || string(after.Data) != "locked before the outage" {
		t.Fatalf("after the outage: %+v, want the value from before at revision %d", after, before.ModRevision)
	}
}

// TestAuthAndTLS: a user whose role covers only the prefix can use the
// guard over TLS with a client certificate; a wrong password, another
// prefix, no client certificate or one from another CA are refused, and no
// error shows the password.
func TestAuthAndTLS(t *testing.T) {
	c := testenv.StartEtcd(t, testenv.EtcdOptions{TLS: true})
	user, _ := c.EnableAuth("deployer", DefaultPrefix)
	x := c.TLS
	good := Config{
		Endpoints: c.Endpoints(), Username: user.Name, Password: user.Password,
		CACert: x.CACert, ClientCert: x.ClientCert, ClientKey: x.ClientKey, Timeout: 5 * time.Second,
	}
	s := open(t, good)
	w := put(t, s, "over tls", time.Minute)
	if v := get(t, s); v.ModRevision != w.ModRevision {
		t.Fatalf("read back %+v", v)
	}
	bad := map[string]func(Config) Config{
		"wrong password":   func(c Config) Config { c.Password = "wrong-" + user.Password; return c },
		"other prefix":     func(c Config) Config { c.Prefix = "/elsewhere/"; return c },
		"no auth":          func(c Config) Config { c.Username, c.Password = "", ""; return c },
		"no client cert":   func(c Config) Config { c.ClientCert, c.ClientKey = "", ""; return c },
		"untrusted client": func(c Config) Config { c.ClientCert, c.ClientKey = x.OtherClientCert, x.OtherClientKey; return c },
		"untrusted server": func(c Config) Config { c.CACert = x.OtherCACert; return c },
	}
	for name, mutate := range bad {
		cfg := mutate(good)
		cfg.Timeout = 3 * time.Second
		st := open(t, cfg)
		_, err := st.Get(context.Background())
		if err == nil {
			t.Errorf("%s: read succeeded", name)
			continue
		}
		var ue *UnavailableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "the guard's state is unknown") {
			t.Errorf("%s: %v; want a 'state unknown' error", name, err)
		}
		if strings.Contains(err.Error(), user.Password) {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}
