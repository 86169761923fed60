package main

import (
	"crypto/tls"
	"fmt"
)

// serverTLS is the TLS a gateway's origination to a real provider (api.openai.com:443, say) is
// tested against here, with this mock and a local CA: the certificate and key of certFile and
// keyFile, HTTP/2 and HTTP/1.1 offered by ALPN as real providers do.
func serverTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load the TLS certificate and key: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}
