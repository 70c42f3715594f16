package etcdstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/threader/guard/internal/fielderr"
)

// FuzzOpen: any endpoints, prefix and scope either open a store whose key
// is exactly prefix+scope inside the prefix, or fail with a *fielderr.Error;
// no input panics, and no error shows the password or an endpoint's
// credentials.
func FuzzOpen(f *testing.F) {
	f.Add("http://127.0.0.1:2379", "/threader.guard/", "threader")
	f.Add("https://a:1,https://b:2", "/", "web")
	f.Add("http://user:hunter2@h:1", "/p/", "s")
	f.Add("http://h:1/v3?x=1", "/p/", "..")
	f.Add("h:1", "p", "a/b")
	f.Add("http://[::1]:2379", "/a b/", "")
	f.Fuzz(func(t *testing.T, endpoints, prefix, scope string) {
		const password = "s3cret-pw"
		st, err := Open(Config{Endpoints: strings.Split(endpoints, ","), Prefix: prefix, Scope: scope, Username: "u", Password: password})
		if err != nil {
			var fe *fielderr.Error
			if !errors.As(err, &fe) {
				t.Fatalf("Open error %v is not a *fielderr.Error", err)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows a secret: %v", err)
			}
			return
		}
		key := st.Key()
		if prefix == "" {
			prefix = DefaultPrefix
		}
		if !strings.HasPrefix(key, prefix) || strings.Contains(key[len(prefix):], "/") || strings.HasSuffix(key, "/..") || strings.HasSuffix(key, "/.") {
			t.Fatalf("key %q escapes or is not inside prefix %q", key, prefix)
		}
		for _, ep := range st.Endpoints() {
			if strings.Contains(ep, "@") {
				t.Fatalf("an endpoint with credentials was accepted: %q", ep)
			}
		}
	})
}
