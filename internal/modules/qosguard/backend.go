package qosguard

import (
	"strings"
	"time"

	"github.com/threader/guard/internal/guard"
	"github.com/threader/guard/internal/guard/etcdstore"
)

// Backends: where the guard lives.
const (
	backendFile = "file" // a lock file on the host (default)
	backendEtcd = "etcd" // one etcd key for the fleet
)

// openGuard returns the guard of the backend and a function that closes
// its connection. A bad etcd config comes back as *fielderr.Error.
func openGuard(backend, path string, lockTimeout time.Duration, cfg etcdstore.Config) (*guard.Guard, func(), error) {
	if backend != backendEtcd {
		return &guard.Guard{Path: path, LockTimeout: lockTimeout}, func() {}, nil
	}
	store, err := guard.OpenEtcd(cfg)
	if err != nil {
		return nil, nil, err
	}
	return &guard.Guard{Store: store}, func() { store.Close() }, nil
}

// splitEndpoints reads "a,b,c" (spaces around commas allowed).
func splitEndpoints(s string) []string {
	var eps []string
	for _, ep := range strings.Split(s, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	return eps
}
