// Package etcdstore keeps one guard-window in one etcd key, so every
// controller and CI runner of a fleet sees the same guard.
//
// It stores bytes and knows nothing of what they mean; internal/guard
// decides what to write. The rules it keeps:
//   - One key, Prefix+Scope. Its mod revision is the guard's revision: etcd
//     revisions are cluster-wide and only grow, so a deleted key created
//     again has a higher one, and a revision read once never matches a
//     later state (no ABA) — a fencing token for what the guard protects.
//   - Every write is one transaction that compares the mod revision read
//     (0: the key must not exist). When another writer got there first,
//     Update reads again and asks again, so any number of writers through
//     any endpoints converge, each deciding on the latest state.
//   - A written value is bound to a new lease of TTL (its remaining window
//     plus LeaseMargin), so etcd removes the key after expiry with no
//     client alive. A lease can outlive its TTL (a leader change renews
//     it), so the value, not the key's presence, says whether it is locked.
//   - Reads are linearizable: they need a quorum. Whatever cannot be
//     answered within Timeout (no quorum, members down or paused, refused
//     credentials) is an *UnavailableError: the guard's state is unknown,
//     and every caller treats it as locked.
package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/threader/guard/internal/fielderr"
)

// Defaults of Config.
const (
	DefaultPrefix      = "/threader.guard/"
	DefaultScope       = "threader"
	DefaultTimeout     = 5 * time.Second
	DefaultLeaseMargin = 60 * time.Second
	// MaxTimeout bounds Config.Timeout.
	MaxTimeout = 10 * time.Minute
	// maxEndpoints, maxPrefixBytes, maxScopeBytes bound what a config may name.
	maxEndpoints   = 64
	maxPrefixBytes = 256
	maxScopeBytes  = 128
)

// Field names carried by the *fielderr.Error values Open returns for a
// config it refuses (a problem that names a second field names it as
// fielderr's Other); front ends map each to their option or flag once
// (Endpoints -> etcd_endpoints, --etcd-endpoints). No error quotes the
// password.
const (
	FieldEndpoints  = "endpoints"
	FieldPrefix     = "prefix"
	FieldScope      = "scope"
	FieldUsername   = "username"
	FieldPassword   = "password"
	FieldCACert     = "ca_cert"
	FieldClientCert = "client_cert"
	FieldClientKey  = "client_key"
	FieldTimeout    = "timeout"
)

// Config says which cluster and key hold the guard.
type Config struct {
	// Endpoints are the members' client URLs (http:// or https://, host
	// and port, nothing else); at least one.
	Endpoints []string
	// Prefix (default DefaultPrefix) and Scope (default DefaultScope) make
	// the key. Prefix starts and ends with "/"; Scope is letters, digits,
	// ".", "_" and "-".
	Prefix, Scope string
	// Username and Password authenticate to etcd (both or neither).
	Username, Password string
	// CACert verifies the members' certificates (default: the system's
	// roots); ClientCert and ClientKey (both or neither) are this client's.
	// Any of them requires https endpoints.
	CACert, ClientCert, ClientKey string
	// Timeout bounds each Get and each Update as a whole, connecting and
	// retrying included (default DefaultTimeout, at most MaxTimeout).
	Timeout time.Duration
	// LeaseMargin is how long past a value's expiry its lease lasts
	// (default DefaultLeaseMargin): it covers readers whose clocks lag.
	LeaseMargin time.Duration
}

// Store is an open guard key. It connects on first use.
type Store struct {
	cfg    Config
	key    string
	client *clientv3.Client
	tls    bool
}

// Open checks cfg and returns a store; it does not connect yet.
func Open(cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.LeaseMargin == 0 {
		cfg.LeaseMargin = DefaultLeaseMargin
	}
	useTLS, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, key: cfg.Prefix + cfg.Scope, tls: useTLS}, nil
}

// Key is the etcd key of the guard.
func (s *Store) Key() string { return s.key }

// Endpoints are the configured endpoints.
func (s *Store) Endpoints() []string { return s.cfg.Endpoints }

// Close ends the connection, if any.
func (s *Store) Close() error {
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client = nil
	return err
}

var scopePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
var prefixPattern = regexp.MustCompile(`^/[\x21-\x7e]*/$|^/$`)

// checkConfig validates cfg and reports whether it uses TLS.
func checkConfig(cfg Config) (bool, error) {
	useTLS, err := checkEndpoints(cfg.Endpoints)
	if err != nil {
		return false, err
	}
	switch {
	case len(cfg.Prefix) > maxPrefixBytes || !prefixPattern.MatchString(cfg.Prefix):
		return false, fielderr.Errorf(FieldPrefix, "must start and end with / and hold only printable ASCII without spaces (at most %d bytes), got: %q", maxPrefixBytes, truncate(cfg.Prefix))
	case len(cfg.Scope) > maxScopeBytes || !scopePattern.MatchString(cfg.Scope) || cfg.Scope == "." || cfg.Scope == "..":
		return false, fielderr.Errorf(FieldScope, "must be 1 to %d letters, digits, '.', '_' or '-', got: %q", maxScopeBytes, truncate(cfg.Scope))
	case cfg.Username != "" && cfg.Password == "":
		return false, fielderr.WithOther(FieldPassword, "is required with %s", FieldUsername)
	case cfg.Username == "" && cfg.Password != "":
		return false, fielderr.WithOther(FieldUsername, "is required with %s", FieldPassword)
	case cfg.ClientCert != "" && cfg.ClientKey == "":
		return false, fielderr.WithOther(FieldClientKey, "is required with %s", FieldClientCert)
	case cfg.ClientCert == "" && cfg.ClientKey != "":
		return false, fielderr.WithOther(FieldClientCert, "is required with %s", FieldClientKey)
	case cfg.Timeout < 0 || cfg.Timeout > MaxTimeout:
		return false, fielderr.Errorf(FieldTimeout, "must be between 1 and %d seconds, got: %s", int(MaxTimeout/time.Second), cfg.Timeout)
	}
	tlsFiles := cfg.CACert != "" || cfg.ClientCert != ""
	if tlsFiles && !useTLS {
		field := FieldCACert
		if cfg.CACert == "" {
			field = FieldClientCert
		}
		return false, fielderr.WithOther(field, "needs https:// endpoints; %s are http://", FieldEndpoints)
	}
	if useTLS {
		if _, err := tlsInfo(cfg).ClientConfig(); err != nil {
			return false, tlsFileError(cfg, err)
		}
	}
	return useTLS, nil
}

// checkEndpoints requires URLs that are all http or all https, with a host
// and port and nothing else (no credentials in them: a URL is logged and
// shown; the password has its own option).
func checkEndpoints(eps []string) (useTLS bool, err error) {
	if len(eps) == 0 {
		return false, fielderr.Errorf(FieldEndpoints, "must name at least one etcd member, e.g. https://etcd1.example:2379")
	}
	if len(eps) > maxEndpoints {
		return false, fielderr.Errorf(FieldEndpoints, "must name at most %d members, got: %d", maxEndpoints, len(eps))
	}
	schemes := map[string]bool{}
	for _, ep := range eps {
		u, err := url.Parse(ep)
		switch {
		case err != nil || u.Host == "" || u.Opaque != "":
			return false, fielderr.Errorf(FieldEndpoints, "must be URLs like https://host:2379, got: %q", redactURL(ep))
		case u.User != nil:
			return false, fielderr.Errorf(FieldEndpoints, "must not carry credentials (use username and password), got: %q", redactURL(ep))
		case u.Scheme != "http" && u.Scheme != "https":
			return false, fielderr.Errorf(FieldEndpoints, "must use http:// or https://, got: %q", redactURL(ep))
		case u.Port() == "":
			return false, fielderr.Errorf(FieldEndpoints, "must name a port (etcd's is 2379), got: %q", redactURL(ep))
		case !validPort(u.Port()):
			return false, fielderr.Errorf(FieldEndpoints, "must name a port from 1 to 65535, got: %q", redactURL(ep))
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			return false, fielderr.Errorf(FieldEndpoints, "must be only scheme://host:port, got: %q", redactURL(ep))
		}
		schemes[u.Scheme] = true
	}
	if len(schemes) > 1 {
		return false, fielderr.Errorf(FieldEndpoints, "must be all http:// or all https://, not a mix")
	}
	return schemes["https"], nil
}

func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// redactURL drops anything that could be a secret (user info) from a URL
// before it is shown.
func redactURL(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		if scheme := strings.Index(s, "://"); scheme >= 0 && scheme < at {
			return truncate(s[:scheme+3] + "REDACTED@" + s[at+1:])
		}
		return "REDACTED"
	}
	return truncate(s)
}

func truncate(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

func tlsInfo(cfg Config) transport.TLSInfo {
	return transport.TLSInfo{CertFile: cfg.ClientCert, KeyFile: cfg.ClientKey, TrustedCAFile: cfg.CACert}
}

// tlsFileError names the option whose file could not be used.
func tlsFileError(cfg Config, err error) error {
	msg := err.Error()
	switch {
	case cfg.CACert != "" && strings.Contains(msg, cfg.CACert):
		return fielderr.Errorf(FieldCACert, "cannot be used: %v", err)
	case cfg.ClientKey != "" && strings.Contains(msg, cfg.ClientKey):
		return fielderr.Errorf(FieldClientKey, "cannot be used: %v", err)
	}
	return fielderr.WithOther(FieldClientCert, "cannot be used with %s: "+strings.ReplaceAll(err.Error(), "%", "%%"), FieldClientKey)
}

// Value is the key as read: its data and mod revision (0 when absent).
type Value struct {
	Exists      bool
	Data        []byte
	ModRevision int64
	Lease       int64
}

// Write is what an Update's decide asks for. The zero Write changes
// nothing.
type Write struct {
	// Put writes Data bound to a new lease of TTL (rounded up to whole
	// seconds; etcd raises it to its minimum).
	Put  bool
	Data []byte
	TTL  time.Duration
	// Delete removes the key.
	Delete bool
}

// UnavailableError is an etcd that did not answer: the state is unknown.
type UnavailableError struct {
	Key       string
	Endpoints []string
	Op        string // what was being done
	Err       error
	Timeout   time.Duration
	TLS       bool // the endpoints are https: a refused handshake looks like no answer too
}

func (e *UnavailableError) Error() string {
	why := e.Err.Error()
	if errors.Is(e.Err, context.DeadlineExceeded) {
		why = fmt.Sprintf("no answer within %s (no quorum, or the members are down or unreachable", e.Timeout)
		if e.TLS {
			why += ", or the TLS handshake failed: check the CA and client certificates"
		}
		why += ")"
	}
	return fmt.Sprintf("etcd guard %s at %s: cannot %s: %s; the guard's state is unknown, so it counts as locked",
		e.Key, strings.Join(e.Endpoints, ","), e.Op, why)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

func (s *Store) unavailable(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
		err = context.DeadlineExceeded
	} else if ue := (*UnavailableError)(nil); errors.As(err, &ue) {
		return ue
	} else {
		err = errors.New(plainGRPC(err))
	}
	return &UnavailableError{Key: s.key, Endpoints: s.cfg.Endpoints, Op: op, Err: err, Timeout: s.cfg.Timeout, TLS: s.tls}
}

// plainGRPC is a gRPC error's description without "rpc error: code = ...".
func plainGRPC(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

// connect dials the cluster once, authenticating if configured, within
// ctx's deadline.
func (s *Store) connect(ctx context.Context) (*clientv3.Client, error) {
	if s.client != nil {
		return s.client, nil
	}
	cfg := clientv3.Config{
		Endpoints:   s.cfg.Endpoints,
		Username:    s.cfg.Username,
		Password:    s.cfg.Password,
		Logger:      zap.NewNop(),
		DialTimeout: s.cfg.Timeout,
		// Pings more often than etcd's --grpc-keepalive-min-time (5 s)
		// make it close the connection (too_many_pings).
		DialKeepAliveTime:    max(s.cfg.Timeout, 10*time.Second),
		DialKeepAliveTimeout: s.cfg.Timeout,
	}
	if d, ok := ctx.Deadline(); ok {
		cfg.DialTimeout = max(time.Until(d), time.Millisecond)
	}
	if s.tls {
		tc, err := tlsInfo(s.cfg).ClientConfig()
		if err != nil {
			return nil, tlsFileError(s.cfg, err)
		}
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, s.unavailable("connect", err)
	}
	s.client = cli
	return cli, nil
}

// attempt runs f with retries on errors a later try can get past (no
// leader yet, a member down or paused), each try bounded by a share of the
// time left so that a paused member cannot take all of it.
func (s *Store) attempt(ctx context.Context, op string, f func(ctx context.Context) error) error {
	for {
		left := time.Duration(math.MaxInt64)
		if d, ok := ctx.Deadline(); ok {
			left = time.Until(d)
		}
		actx, cancel := context.WithTimeout(ctx, max(left/2, s.cfg.Timeout/4, 250*time.Millisecond))
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !retriable(err) {
			return s.unavailable(op, errors.Join(err, ctx.Err()))
		}
		select {
		case <-ctx.Done():
			return s.unavailable(op, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func retriable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	// The client turns some server errors into rpctypes values.
	switch {
	case errors.Is(err, rpctypes.ErrNoLeader), errors.Is(err, rpctypes.ErrLeaderChanged),
		errors.Is(err, rpctypes.ErrTimeout), errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail),
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost):
		return true
	}
	return false
}

func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// Get reads the key (linearizably: a quorum must answer).
func (s *Store) Get(ctx context.Context) (Value, error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	cli, err := s.connect(ctx)
	if err != nil {
		return Value{}, err
	}
	return s.get(ctx, cli)
}

func (s *Store) get(ctx context.Context, cli *clientv3.Client) (Value, error) {
	var v Value
	err := s.attempt(ctx, "read the guard", func(ctx context.Context) error {
		resp, err := cli.Get(ctx, s.key)
		if err != nil {
			return err
		}
		v = valueOf(resp.Kvs)
		return nil
	})
	return v, err
}

func valueOf(kvs []*mvccpb.KeyValue) Value {
	if len(kvs) == 0 {
		return Value{}
	}
	kv := kvs[0]
	return Value{Exists: true, Data: kv.Value, ModRevision: kv.ModRevision, Lease: kv.Lease}
}

// Update reads the key, asks decide what to write, and writes it in one
// transaction only if the key is still at the mod revision read; when it
// moved, it reads and asks again. It returns the value read last and the
// value after (equal to it when decide asked for nothing, or for a dry
// run, which never writes). Errors from decide come back unchanged.
func (s *Store) Update(ctx context.Context, dryRun bool, decide func(cur Value) (Write, error)) (before, after Value, err error) {
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	cli, err := s.connect(ctx)
	if err != nil {
		return Value{}, Value{}, err
	}
	cur, err := s.get(ctx, cli)
	if err != nil {
		return Value{}, Value{}, err
	}
	for {
		w, err := decide(cur)
		if err != nil {
			return cur, cur, err
		}
		if dryRun || (!w.Put && !w.Delete) {
			return cur, cur, nil
		}
		done, now, err := s.write(ctx, cli, cur, w)
		if err != nil {
			return cur, cur, err
		}
		if done {
			s.revokeOld(ctx, cli, cur, now)
			return cur, now, nil
		}
		cur = now // another writer got there first: decide again on its state
	}
}

// write runs one compare-and-write transaction. On success it returns the
// value written (Exists false after a delete, with the deleting revision);
// when the key moved it returns the key as it is now.
func (s *Store) write(ctx context.Context, cli *clientv3.Client, cur Value, w Write) (bool, Value, error) {
	var lease clientv3.LeaseID
	if w.Put {
		ttl := int64(math.Ceil(w.TTL.Seconds() + s.cfg.LeaseMargin.Seconds()))
		err := s.attempt(ctx, "grant a lease for the guard", func(ctx context.Context) error {
			resp, err := cli.Grant(ctx, max(ttl, 1))
			if err == nil {
				lease = resp.ID
			}
			return err
		})
		if err != nil {
			return false, Value{}, err
		}
	}
	op := clientv3.OpDelete(s.key)
	if w.Put {
		op = clientv3.OpPut(s.key, string(w.Data), clientv3.WithLease(lease))
	}
	var resp *clientv3.TxnResponse
	err := s.attempt(ctx, "write the guard", func(ctx context.Context) error {
		r, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(s.key), "=", cur.ModRevision)).
			Then(op).
			Else(clientv3.OpGet(s.key)).
			Commit()
		if err == nil {
			resp = r
		}
		return err
	})
	if err != nil {
		// The write may or may not have happened: the state is unknown.
		// An unused lease expires by itself.
		return false, Value{}, err
	}
	if !resp.Succeeded {
		if lease != 0 {
			s.revoke(ctx, cli, lease)
		}
		return false, valueOf(resp.Responses[0].GetResponseRange().Kvs), nil
	}
	if w.Delete {
		return true, Value{ModRevision: resp.Header.Revision}, nil
	}
	return true, Value{Exists: true, Data: w.Data, ModRevision: resp.Header.Revision, Lease: int64(lease)}, nil
}

// revokeOld ends the lease of the value replaced, which nothing uses any
// more. It is tidying, not safety: a failure leaves a lease that expires.
func (s *Store) revokeOld(ctx context.Context, cli *clientv3.Client, old, now Value) {
	if old.Lease != 0 && old.Lease != now.Lease {
		s.revoke(ctx, cli, clientv3.LeaseID(old.Lease))
	}
}

func (s *Store) revoke(ctx context.Context, cli *clientv3.Client, id clientv3.LeaseID) {
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	cli.Revoke(rctx, id)
}

// LeaseTTL is the remaining TTL of the key's lease (for tests and
// diagnostics); -1 when the key has none.
func (s *Store) LeaseTTL(ctx context.Context, v Value) (time.Duration, error) {
	if v.Lease == 0 {
		return -1, nil
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	cli, err := s.connect(ctx)
	if err != nil {
		return 0, err
	}
	resp, err := cli.TimeToLive(ctx, clientv3.LeaseID(v.Lease))
	if err != nil {
		return 0, s.unavailable("read the guard's lease", err)
	}
	return time.Duration(resp.TTL) * time.Second, nil
}
