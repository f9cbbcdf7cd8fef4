package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey returns the RSA private key in the PEM file at path (PKCS #8 "PRIVATE KEY" or
// PKCS #1 "RSA PRIVATE KEY"), or, if there is no such file, generates a 2048-bit key and writes it
// there as PKCS #8 with mode 0600, creating the directory with mode 0700. Keeping the key across
// restarts keeps tokens minted before a restart valid.
func LoadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return parseKey(path, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("devissuer: read key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("devissuer: key directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		return LoadOrCreateKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("devissuer: create key file: %w", err)
	}
	werr := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path) // do not leave a truncated key behind
		return nil, fmt.Errorf("devissuer: write key file: %w", werr)
	}
	return key, nil
}

// parseKey decodes the first PEM block of data as an RSA private key.
func parseKey(path string, data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("devissuer: key file %s: no PEM block", path)
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("devissuer: key file %s: %w", path, err)
		}
		return key, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("devissuer: key file %s: %w", path, err)
		}
		key, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("devissuer: key file %s: %T is not an RSA key", path, k)
		}
		return key, nil
	}
	return nil, fmt.Errorf("devissuer: key file %s: PEM block %q is not a private key", path, block.Type)
}
