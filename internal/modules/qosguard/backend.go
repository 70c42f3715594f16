package qosguard

import (
	"errors"
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

// etcdOptions names, once, the module option of each etcd config field;
// etcdFlags the CLI flag (or variable) of each.
var (
	etcdOptions = map[string]string{
		etcdstore.FieldEndpoints: "etcd_endpoints", etcdstore.FieldPrefix: "etcd_prefix", etcdstore.FieldScope: "scope",
		etcdstore.FieldUsername: "etcd_username", etcdstore.FieldPassword: "etcd_password",
		etcdstore.FieldCACert: "etcd_ca_cert", etcdstore.FieldClientCert: "etcd_client_cert",
		etcdstore.FieldClientKey: "etcd_client_key", etcdstore.FieldTimeout: "etcd_timeout_seconds",
	}
	etcdFlags = map[string]string{
		etcdstore.FieldEndpoints: "--etcd-endpoints", etcdstore.FieldPrefix: "--etcd-prefix", etcdstore.FieldScope: "--scope",
		etcdstore.FieldUsername: "--etcd-username", etcdstore.FieldPassword: "QOS_GUARD_ETCD_PASSWORD",
		etcdstore.FieldCACert: "--etcd-ca-cert", etcdstore.FieldClientCert: "--etcd-client-cert",
		etcdstore.FieldClientKey: "--etcd-client-key", etcdstore.FieldTimeout: "--etcd-timeout",
	}
)

// openGuard returns the guard of the backend and a function that closes
// its connection. A bad etcd config comes back as *etcdstore.FieldError.
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

// etcdFieldError names the fields of an *etcdstore.FieldError with names;
// prefix comes first ("value of " for the module).
func etcdFieldError(err error, names map[string]string, prefix string) error {
	var fe *etcdstore.FieldError
	if errors.As(err, &fe) {
		return errors.New(prefix + fe.Describe(func(field string) string {
			if name, ok := names[field]; ok {
				return name
			}
			return field
		}))
	}
	return err
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
