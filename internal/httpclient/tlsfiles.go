package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/threader/guard/internal/fielderr"
)

// TLSFiles are a client's TLS settings as users give them: PEM files and
// the choice to skip verification. The zero value is verified TLS with the
// system roots and no client certificate. Every client that talks TLS
// (promapi's backends, the web source) builds its Options.TLS with Config,
// so the files are read and checked in one place.
type TLSFiles struct {
	// InsecureSkipVerify turns certificate checks off (validate_certs: false).
	InsecureSkipVerify bool
	// CAFile is a PEM bundle of the CAs to trust instead of the system roots.
	CAFile string
	// ClientCertFile and ClientKeyFile are a PEM client certificate and its
	// key for mutual TLS: both or neither.
	ClientCertFile, ClientKeyFile string
}

// Config reads the files. Problems are *fielderr.Error values naming the
// TLSFiles field (CAFile, ClientCertFile, ClientKeyFile); callers that
// name the pairing of certificate and key in their own words check it
// before (one of the two alone is refused here too).
func (f TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.InsecureSkipVerify} //nolint:gosec // the user asked for it
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, fielderr.New("CAFile", err.Error())
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fielderr.New("CAFile", fmt.Sprintf("%s holds no PEM certificate", f.CAFile))
		}
		cfg.RootCAs = pool
	}
	switch {
	case f.ClientCertFile != "" && f.ClientKeyFile != "":
		cert, err := tls.LoadX509KeyPair(f.ClientCertFile, f.ClientKeyFile)
		if err != nil {
			return nil, fielderr.New("ClientCertFile", err.Error())
		}
		cfg.Certificates = []tls.Certificate{cert}
	case f.ClientCertFile != "":
		return nil, fielderr.New("ClientKeyFile", "is required with ClientCertFile")
	case f.ClientKeyFile != "":
		return nil, fielderr.New("ClientCertFile", "is required with ClientKeyFile")
	}
	return cfg, nil
}
