// Package tlscert keeps the appliance's HTTPS certificate on the data
// partition: a self-signed ECDSA certificate made on first boot, which an
// administrator may replace with an uploaded certificate and key.
//
//	store, err := tlscert.Open("/perm/tls", hostname)
//	srv.TLSConfig = &tls.Config{GetCertificate: store.GetCertificate}
//
// Replacing the pair takes effect on the next TLS handshake, without a
// restart; the private key file is written 0600 and never logged.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
)

const (
	certFile = "cert.pem"
	keyFile  = "key.pem"
)

// Store holds the current certificate and persists replacements.
type Store struct {
	dir string

	mu   sync.RWMutex
	cert *tls.Certificate
}

// Open loads the certificate in dir, creating a self-signed one for
// hostname if there is none yet.
func Open(dir, hostname string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlscert: %w", err)
	}
	s := &Store{dir: dir}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
	switch {
	case err == nil:
		s.cert = &cert
		return s, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("tlscert: load %s: %w", dir, err)
	}
	certPEM, keyPEM, err := SelfSigned(hostname, time.Now())
	if err != nil {
		return nil, err
	}
	if err := s.Replace(certPEM, keyPEM); err != nil {
		return nil, err
	}
	return s, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (s *Store) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert, nil
}

// Leaf returns the parsed current certificate.
func (s *Store) Leaf() *x509.Certificate {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cert.Leaf
}

// Replace validates a PEM certificate (chain) and key, stores them and
// serves them from the next handshake on. A pair that does not match, or
// does not parse, is rejected and nothing changes.
func (s *Store) Replace(certPEM, keyPEM []byte) error {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("tlscert: invalid certificate or key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Key first: a crash between the two writes leaves a mismatched pair,
	// which Open reports instead of serving it.
	if err := atomicfile.WriteFile(filepath.Join(s.dir, keyFile), keyPEM, 0o600); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir, certFile), certPEM, 0o644); err != nil {
		return err
	}
	s.cert = &cert
	return nil
}

// SelfSigned makes a PEM ECDSA P-256 certificate and key valid for ten
// years for hostname, localhost and the loopback addresses.
func SelfSigned(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"Multimeter"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{hostname, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("tlscert: marshal key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}
