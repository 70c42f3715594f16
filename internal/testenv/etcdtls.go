package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// EtcdTLS is a test CA and the certificates signed by it, as PEM files:
// a server certificate for 127.0.0.1 and a client certificate, plus a
// second CA that signed nothing the cluster trusts (for negative tests).
type EtcdTLS struct {
	CACert                string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	OtherCACert           string // a CA the cluster does not use
	OtherClientCert       string // signed by OtherCACert
	OtherClientKey        string
}

// NewEtcdTLS generates the CA and certificates into dir (created 0700).
func NewEtcdTLS(t testing.TB, dir string) *EtcdTLS {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca, caKey := newCA(t, "threader.guard test CA")
	other, otherKey := newCA(t, "an untrusted CA")
	x := &EtcdTLS{
		CACert:      writePEM(t, dir, "ca.crt", "CERTIFICATE", ca.Raw),
		OtherCACert: writePEM(t, dir, "other-ca.crt", "CERTIFICATE", other.Raw),
	}
	x.ServerCert, x.ServerKey = issue(t, dir, "server", ca, caKey, x509.ExtKeyUsageServerAuth)
	x.ClientCert, x.ClientKey = issue(t, dir, "client", ca, caKey, x509.ExtKeyUsageClientAuth)
	x.OtherClientCert, x.OtherClientKey = issue(t, dir, "other-client", other, otherKey, x509.ExtKeyUsageClientAuth)
	return x
}

var serial = big.NewInt(1)

func nextSerial() *big.Int {
	portMu.Lock()
	defer portMu.Unlock()
	serial = new(big.Int).Add(serial, big.NewInt(1))
	return serial
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// issue signs a certificate for 127.0.0.1 and localhost (server and client
// alike: etcd checks a client certificate's usage, not its names).
func issue(t testing.TB, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) (certPath, keyPath string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name+".crt", "CERTIFICATE", der), writePEM(t, dir, name+".key", "EC PRIVATE KEY", keyDER)
}

func writePEM(t testing.TB, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	writeFile0600(t, path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
	return path
}
