// Package secret seals the secrets OpenCCM stores (registry passwords, CA
// keys) with AES-256-GCM under a master key kept in a file outside the
// database. Every sealed value is bound to the row it belongs to through
// associated data, so a ciphertext copied into another row does not open.
package secret

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the master key length: AES-256.
const KeySize = 32

// version 1: [1][key id: 4 bytes][nonce: 12 bytes][ciphertext+tag].
const formatV1 = 1

// ErrOpen is returned when a sealed value does not open: wrong key, wrong
// associated data, or tampered bytes.
var ErrOpen = errors.New("secret: sealed value does not open with this key and context")

// Box seals and opens values under one master key.
type Box struct {
	aead  cipher.AEAD
	keyID [4]byte
}

// New returns a Box for a 32-byte master key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secret: master key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	b := &Box{aead: aead}
	id := sha256.Sum256(append([]byte("openccm-master-key-id"), key...))
	copy(b.keyID[:], id[:4])
	return b, nil
}

// KeyID identifies the master key (a short digest, not the key). It lets an
// operator see which key sealed a value and is checked when opening.
func (b *Box) KeyID() string { return fmt.Sprintf("%x", b.keyID) }

// Seal encrypts plaintext bound to aad (for example "registry:<account>:<id>").
func (b *Box) Seal(plaintext, aad []byte) ([]byte, error) {
	out := make([]byte, 0, 1+4+b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	out = append(out, formatV1)
	out = append(out, b.keyID[:]...)
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secret: reading random nonce: %w", err)
	}
	out = append(out, nonce...)
	return b.aead.Seal(out, nonce, plaintext, b.aad(aad)), nil
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(sealed) < 1+4+ns+b.aead.Overhead() || sealed[0] != formatV1 {
		return nil, ErrOpen
	}
	if !bytes.Equal(sealed[1:5], b.keyID[:]) {
		return nil, fmt.Errorf("%w (sealed under key %x, this is key %s)", ErrOpen, sealed[1:5], b.KeyID())
	}
	nonce := sealed[5 : 5+ns]
	pt, err := b.aead.Open(nil, nonce, sealed[5+ns:], b.aad(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// aad prefixes the caller's context with the format version so that a value
// can never be confused with one of another format.
func (b *Box) aad(ctx []byte) []byte {
	return append([]byte("openccm-secret-v1\x00"), ctx...)
}

// LoadOrCreateKeyFile reads the master key from path, creating it with a new
// random key (mode 0600) when it does not exist. created reports whether it
// was made now. The file holds the key in base64 on one line.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = LoadKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secret: generating master key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("secret: creating key directory: %w", err)
	}
	// O_EXCL: two processes starting at once must not both write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		key, err = LoadKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("secret: creating master key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("secret: writing master key file: %w", err)
	}
	return key, true, nil
}

// LoadKeyFile reads a master key file. It refuses a file that others can read.
func LoadKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret: master key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret: master key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret: reading master key file: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("secret: master key file %s must hold %d bytes in base64", path, KeySize)
	}
	return key, nil
}
