package testenv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EtcdUser is a user the test created, with a role that may read and write
// only keys under Prefix.
type EtcdUser struct {
	Name, Password, Role, Prefix string
}

// Client returns a client of the cluster as root (before auth is enabled)
// or as user (after), closed when the test ends.
func (c *EtcdCluster) Client(user *EtcdUser) *clientv3.Client {
	c.t.Helper()
	cfg := clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 10 * time.Second, Logger: zap.NewNop()}
	if user != nil {
		cfg.Username, cfg.Password = user.Name, user.Password
	}
	if c.TLS != nil {
		cfg.TLS = c.clientTLS()
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		c.t.Fatalf("etcd client: %v", err)
	}
	c.t.Cleanup(func() { cli.Close() })
	return cli
}

func (c *EtcdCluster) clientTLS() *tls.Config {
	c.t.Helper()
	info := transport.TLSInfo{CertFile: c.TLS.ClientCert, KeyFile: c.TLS.ClientKey, TrustedCAFile: c.TLS.CACert}
	cfg, err := info.ClientConfig()
	if err != nil {
		c.t.Fatalf("etcd client TLS: %v", err)
	}
	return cfg
}

// EnableAuth turns on etcd's authentication: a root user (etcd requires
// one) and the returned user, whose role may read and write only keys
// under prefix. Passwords are random and go through the API, never a
// command line.
func (c *EtcdCluster) EnableAuth(name, prefix string) (user, root *EtcdUser) {
	c.t.Helper()
	root = &EtcdUser{Name: "root", Password: randomPassword(c.t), Role: "root"}
	user = &EtcdUser{Name: name, Password: randomPassword(c.t), Role: name + "-role", Prefix: prefix}
	cli := c.Client(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, root.Name, root.Password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, root.Name, "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, user.Role); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, user.Role, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, user.Name, user.Password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, user.Name, user.Role); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			c.t.Fatalf("enabling etcd auth, step %d: %v", i+1, err)
		}
	}
	return user, root
}

func randomPassword(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}
