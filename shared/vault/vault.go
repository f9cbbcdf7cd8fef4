// Package vault implements Leadvault's key hierarchy and the encryption of personal data.
//
// The hierarchy has three levels, so that erasing one subject or one tenant is a matter of destroying one key:
//
//	stage CMK (KMS, never leaves KMS, rotated yearly)
//	└── tenant key: a 256-bit KMS data key (GenerateDataKey, encryption context = tenant), stored wrapped
//	    with the tenant; unwrapped copies are cached at most 5 minutes and 10,000 uses.
//	    HKDF derives from it the blind-index key, the subject-key wrapping key and the pseudonym key.
//	    └── subject key: a random 256-bit key per data subject, stored wrapped (AES-256-GCM) under the
//	        tenant's wrapping key with the tenant and subject bound as associated data.
//	        └── record: a lead's personal data, sealed with AES-256-GCM under the subject key with the
//	            tenant and record ID bound as associated data.
//
// Destroying a subject key makes every record of that subject unreadable (crypto-shredding one subject);
// destroying the wrapped tenant key does the same for the whole tenant. See docs/architecture.md.
package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"leadvault/shared/cache"
)

// KMS is the part of the KMS API the vault uses.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ KMS = (*kms.Client)(nil)

// Cache bounds for unwrapped tenant keys.
const (
	DefaultMaxAge  = 5 * time.Minute
	DefaultMaxUses = 10_000
	maxTenants     = 1024
)

// ErrDecrypt means a ciphertext or wrapped key failed authentication: wrong key, wrong binding, or tampering.
var ErrDecrypt = errors.New("decryption failed")

// Vault unwraps tenant keys through KMS and caches them.
type Vault struct {
	kms     KMS
	keyID   string
	maxAge  time.Duration
	maxUses int
	now     func() time.Time

	cache *cache.Cache[string, *cached]
}

// cached is one unwrapped tenant key with the number of uses it has served; the cache bounds its age.
type cached struct {
	key  *TenantKey
	uses atomic.Int64
}

// Option changes a Vault's defaults.
type Option func(*Vault)

// WithCacheLimits sets the age and use bounds of the tenant-key cache.
func WithCacheLimits(maxAge time.Duration, maxUses int) Option {
	return func(v *Vault) { v.maxAge, v.maxUses = maxAge, maxUses }
}

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(v *Vault) { v.now = now } }

// New returns a Vault that wraps tenant keys under the KMS key keyID (an ARN, ID or alias).
func New(k KMS, keyID string, opts ...Option) *Vault {
	v := &Vault{kms: k, keyID: keyID, maxAge: DefaultMaxAge, maxUses: DefaultMaxUses, now: time.Now}
	for _, o := range opts {
		o(v)
	}
	v.cache = cache.New[string, *cached](maxTenants, v.maxAge, v.now)
	return v
}

func tenantContext(tenantID string) map[string]string {
	return map[string]string{"leadvault:tenant": tenantID, "leadvault:purpose": "tenant-key"}
}

// NewTenantKey asks KMS for a fresh tenant key and returns it wrapped, to be stored with the tenant.
func (v *Vault) NewTenantKey(ctx context.Context, tenantID string) ([]byte, error) {
	out, err := v.kms.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             &v.keyID,
		KeySpec:           kmstypes.DataKeySpecAes256,
		EncryptionContext: tenantContext(tenantID),
	})
	if err != nil {
		return nil, fmt.Errorf("generate tenant key for %s: %w", tenantID, err)
	}
	clear(out.Plaintext)
	return out.CiphertextBlob, nil
}

// TenantKey unwraps a tenant's key, from the cache while the cached copy is younger than the age bound and
// has served fewer uses than the use bound. Every call counts as one use.
func (v *Vault) TenantKey(ctx context.Context, tenantID string, wrapped []byte) (*TenantKey, error) {
	sum := sha256.Sum256(wrapped)
	id := tenantID + "\x00" + string(sum[:])
	if c, ok := v.cache.Get(id); ok {
		// A key that served its last use is dropped, so the next call unwraps a fresh copy.
		if n := c.uses.Add(1); n <= int64(v.maxUses) {
			return c.key, nil
		}
		v.cache.Remove(id)
	}

	out, err := v.kms.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob:    wrapped,
		KeyId:             &v.keyID,
		EncryptionContext: tenantContext(tenantID),
	})
	if err != nil {
		var invalid *kmstypes.InvalidCiphertextException
		if errors.As(err, &invalid) {
			return nil, fmt.Errorf("unwrap tenant key of %s: %w", tenantID, ErrDecrypt)
		}
		return nil, fmt.Errorf("unwrap tenant key of %s: %w", tenantID, err)
	}
	key, err := newTenantKey(tenantID, out.Plaintext)
	clear(out.Plaintext)
	if err != nil {
		return nil, err
	}
	if v.maxUses > 0 {
		c := &cached{key: key}
		c.uses.Store(1)
		v.cache.Add(id, c)
	}
	return key, nil
}

// Forget drops a tenant's cached keys, e.g. after the tenant key was destroyed.
func (v *Vault) Forget(tenantID string) {
	v.cache.RemoveFunc(func(_ string, c *cached) bool { return c.key.tenant == tenantID })
}

// TenantKey holds the keys derived from one tenant's key. It never exposes the tenant key itself.
type TenantKey struct {
	tenant    string
	index     []byte
	pseudonym []byte
	wrap      cipher.AEAD
}

func newTenantKey(tenantID string, secret []byte) (*TenantKey, error) {
	if len(secret) != 32 {
		return nil, fmt.Errorf("tenant key of %s has %d bytes; want 32", tenantID, len(secret))
	}
	derive := func(info string) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, []byte(tenantID), "leadvault/"+info+"/v1", 32)
	}
	index, err := derive("blind-index")
	if err != nil {
		return nil, fmt.Errorf("derive blind-index key: %w", err)
	}
	pseudonym, err := derive("pseudonym")
	if err != nil {
		return nil, fmt.Errorf("derive pseudonym key: %w", err)
	}
	wrapKey, err := derive("subject-wrap")
	if err != nil {
		return nil, fmt.Errorf("derive wrapping key: %w", err)
	}
	wrap, err := newGCM(wrapKey)
	if err != nil {
		return nil, err
	}
	return &TenantKey{tenant: tenantID, index: index, pseudonym: pseudonym, wrap: wrap}, nil
}

// Tenant returns the tenant the key belongs to.
func (k *TenantKey) Tenant() string { return k.tenant }

// BlindIndex returns a keyed hash of a normalised value (e.g. an e-mail address) that lets the tenant's
// records of one subject be found by an exact-match query without storing the value. kind separates the
// value spaces ("email", "phone").
func (k *TenantKey) BlindIndex(kind, normalised string) string {
	return k.mac(k.index, kind, normalised)
}

// Pseudonym returns a keyed hash of a value the system must recognise but never store, such as a client
// IP address for rate limiting.
func (k *TenantKey) Pseudonym(purpose, value string) string {
	return k.mac(k.pseudonym, purpose, value)
}

func (k *TenantKey) mac(key []byte, kind, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (k *TenantKey) subjectAAD(subjectID string) []byte {
	return []byte("leadvault/subject-key/v1\x00" + k.tenant + "\x00" + subjectID)
}

// NewSubjectKey makes a random subject key and returns it with its wrapped form for storage.
func (k *TenantKey) NewSubjectKey(subjectID string) (*SubjectKey, []byte, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails since Go 1.24
	sk, err := newSubjectKey(secret)
	if err != nil {
		return nil, nil, err
	}
	return sk, seal(k.wrap, secret, k.subjectAAD(subjectID)), nil
}

// OpenSubjectKey unwraps a stored subject key.
func (k *TenantKey) OpenSubjectKey(subjectID string, wrapped []byte) (*SubjectKey, error) {
	secret, err := open(k.wrap, wrapped, k.subjectAAD(subjectID))
	if err != nil {
		return nil, fmt.Errorf("open subject key %s: %w", subjectID, err)
	}
	return newSubjectKey(secret)
}

// SubjectKey encrypts the records of one data subject.
type SubjectKey struct{ aead cipher.AEAD }

func newSubjectKey(secret []byte) (*SubjectKey, error) {
	aead, err := newGCM(secret)
	if err != nil {
		return nil, err
	}
	return &SubjectKey{aead: aead}, nil
}

// Seal encrypts plaintext; aad binds the ciphertext to its place (tenant, record) so it can't be moved.
func (s *SubjectKey) Seal(plaintext, aad []byte) []byte { return seal(s.aead, plaintext, aad) }

// Open decrypts what Seal produced with the same aad.
func (s *SubjectKey) Open(sealed, aad []byte) ([]byte, error) { return open(s.aead, sealed, aad) }

// SealRecord encrypts a record's plaintext under its data subject's key: the key whose stored (wrapped)
// form is wrapped, or, when wrapped is nil, a new random key, whose wrapped form it returns for storage
// (newWrapped is nil otherwise). The ciphertext is bound to the tenant and the record (RecordAAD), so it
// cannot be moved to another. The subject key exists in the clear only inside this call.
func (k *TenantKey) SealRecord(subjectID string, wrapped []byte, recordID string, plain []byte) (sealed, newWrapped []byte, err error) {
	var sk *SubjectKey
	if wrapped == nil {
		sk, newWrapped, err = k.NewSubjectKey(subjectID)
	} else {
		sk, err = k.OpenSubjectKey(subjectID, wrapped)
	}
	if err != nil {
		return nil, nil, err
	}
	return sk.Seal(plain, RecordAAD(k.tenant, recordID)), newWrapped, nil
}

// OpenRecord decrypts what SealRecord sealed for the record, given its subject key's wrapped form.
func (k *TenantKey) OpenRecord(subjectID string, wrapped []byte, recordID string, sealed []byte) ([]byte, error) {
	sk, err := k.OpenSubjectKey(subjectID, wrapped)
	if err != nil {
		return nil, err
	}
	plain, err := sk.Open(sealed, RecordAAD(k.tenant, recordID))
	if err != nil {
		return nil, fmt.Errorf("open record %s: %w", recordID, err)
	}
	return plain, nil
}

// RecordAAD is the associated data that binds a lead's ciphertext to its tenant and record.
func RecordAAD(tenantID, recordID string) []byte {
	return []byte("leadvault/lead/v1\x00" + tenantID + "\x00" + recordID)
}

const formatV1 = 1

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new gcm: %w", err)
	}
	return aead, nil
}

// seal returns version || nonce || ciphertext+tag. Random 96-bit nonces are safe here because one key seals
// far fewer than 2^32 messages: a subject key only that subject's records, a wrapping key one per subject.
func seal(aead cipher.AEAD, plaintext, aad []byte) []byte {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = formatV1
	// Since Go 1.24 crypto/rand.Read never returns an error; it always fills the buffer.
	_, _ = rand.Read(out[1 : 1+aead.NonceSize()])
	return aead.Seal(out, out[1:1+aead.NonceSize()], plaintext, aad)
}

func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	n := aead.NonceSize()
	if len(sealed) < 1+n+aead.Overhead() || sealed[0] != formatV1 {
		return nil, fmt.Errorf("%w: malformed ciphertext", ErrDecrypt)
	}
	plain, err := aead.Open(nil, sealed[1:1+n], sealed[1+n:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}
