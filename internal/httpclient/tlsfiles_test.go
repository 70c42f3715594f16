package httpclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threader/guard/internal/fielderr"
	"github.com/threader/guard/internal/testenv"
)

// TLSFiles' problems name the field, so each caller can name its own option.
func TestTLSFilesNameTheField(t *testing.T) {
	dir := t.TempDir()
	pki := testenv.NewEtcdTLS(t, filepath.Join(dir, "pki"))
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	for _, tc := range []struct {
		files        TLSFiles
		field, words string
	}{
		{TLSFiles{CAFile: filepath.Join(dir, "missing.pem")}, "CAFile", "no such file or directory"},
		{TLSFiles{CAFile: notPEM}, "CAFile", "holds no PEM certificate"},
		{TLSFiles{ClientCertFile: pki.ClientCert, ClientKeyFile: pki.ServerCert}, "ClientCertFile", ""},
		{TLSFiles{ClientCertFile: pki.ClientCert}, "ClientKeyFile", "is required with ClientCertFile"},
		{TLSFiles{ClientKeyFile: pki.ClientKey}, "ClientCertFile", "is required with ClientKeyFile"},
	} {
		_, err := tc.files.Config()
		fe, ok := fielderr.As(err)
		if !ok || fe.Field != tc.field || !strings.Contains(fe.Problem, tc.words) {
			t.Errorf("%+v: %v, want field %s with %q", tc.files, err, tc.field, tc.words)
		}
	}
	cfg, err := TLSFiles{CAFile: pki.CACert, ClientCertFile: pki.ClientCert, ClientKeyFile: pki.ClientKey}.Config()
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.InsecureSkipVerify {
		t.Fatalf("%v %+v", err, cfg)
	}
}
