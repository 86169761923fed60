package llm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// TestPKI is a throwaway local CA and a server certificate it issued, as PEM files: what
// serving the mock over TLS (mockllm --tls-cert --tls-key) needs, and what a gateway in front
// of it is told to trust, so that TLS origination to a real provider is tested here without one.
type TestPKI struct {
	CAFile   string // the CA's certificate: the gateway's trust bundle
	CertFile string // the server certificate, for the hosts asked for
	KeyFile  string // its private key (PKCS #8)
	CA       *x509.Certificate

	caKey *ecdsa.PrivateKey
}

// NewTestPKI writes a new CA (ca.pem) and a server certificate for hosts (DNS names) into dir,
// valid for a day. Every call makes a different CA, so a second one is a "wrong CA".
func NewTestPKI(dir string, hosts ...string) (TestPKI, error) {
	if len(hosts) == 0 {
		return TestPKI{}, errors.New("test PKI: name at least one host")
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TestPKI{}, fmt.Errorf("test PKI: %w", err)
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hopguard mock LLM test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return TestPKI{}, fmt.Errorf("test PKI: make the CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return TestPKI{}, fmt.Errorf("test PKI: %w", err)
	}
	pki := TestPKI{CAFile: filepath.Join(dir, "ca.pem"), CA: ca, caKey: caKey}
	if err := writePEM(pki.CAFile, "CERTIFICATE", caDER); err != nil {
		return TestPKI{}, err
	}
	pki.CertFile, pki.KeyFile, err = pki.IssueServer(dir, hosts...)
	if err != nil {
		return TestPKI{}, err
	}
	return pki, nil
}

// IssueServer issues another server certificate from the same CA, for other hosts, and writes
// it and its key into dir as <first host>.pem and <first host>-key.pem: a certificate a gateway
// trusts but that does not name the host it dialled.
func (pki TestPKI) IssueServer(dir string, hosts ...string) (certFile, keyFile string, err error) {
	if len(hosts) == 0 || pki.caKey == nil {
		return "", "", errors.New("test PKI: issue a certificate: no host, or no CA (use NewTestPKI)")
	}
	now := time.Now()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("test PKI: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", "", fmt.Errorf("test PKI: %w", err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(2)),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, pki.CA, &key.PublicKey, pki.caKey)
	if err != nil {
		return "", "", fmt.Errorf("test PKI: issue the server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("test PKI: %w", err)
	}
	certFile = filepath.Join(dir, hosts[0]+".pem")
	keyFile = filepath.Join(dir, hosts[0]+"-key.pem")
	if err := writePEM(certFile, "CERTIFICATE", leafDER); err != nil {
		return "", "", err
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func writePEM(path, blockType string, der []byte) error {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("test PKI: %w", err)
	}
	return nil
}
