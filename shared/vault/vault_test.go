package vault_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"leadvault/infra/local/testenv"
	"leadvault/shared/vault"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// countingKMS passes every call to the real (stand-in) KMS and counts them.
type countingKMS struct {
	vault.KMS
	generate, decrypt atomic.Int64
}

func (c *countingKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	c.generate.Add(1)
	return c.KMS.GenerateDataKey(ctx, in, opts...)
}

func (c *countingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	c.decrypt.Add(1)
	return c.KMS.Decrypt(ctx, in, opts...)
}

func newVault(opts ...vault.Option) (*vault.Vault, *countingKMS) {
	k := &countingKMS{KMS: testenv.Env.AWS.KMS()}
	return vault.New(k, testenv.Env.Standins.KeyARN, opts...), k
}

func TestTenantKey_roundTrip(t *testing.T) {
	ctx := context.Background()
	v, _ := newVault()
	wrapped, err := v.NewTenantKey(ctx, "acme")
	if err != nil {
		t.Fatalf("NewTenantKey() error = %v", err)
	}
	tk, err := v.TenantKey(ctx, "acme", wrapped)
	if err != nil {
		t.Fatalf("TenantKey() error = %v", err)
	}
	sk, wrappedSK, err := tk.NewSubjectKey("e.abc")
	if err != nil {
		t.Fatal(err)
	}
	sealed := sk.Seal([]byte("Jens Hansen"), vault.RecordAAD("acme", "lead-1"))

	// A second process (a fresh vault) reads it back through KMS.
	v2, _ := newVault()
	tk2, err := v2.TenantKey(ctx, "acme", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	sk2, err := tk2.OpenSubjectKey("e.abc", wrappedSK)
	if err != nil {
		t.Fatalf("OpenSubjectKey() error = %v", err)
	}
	plain, err := sk2.Open(sealed, vault.RecordAAD("acme", "lead-1"))
	if err != nil || string(plain) != "Jens Hansen" {
		t.Errorf("Open() = %q, %v; want %q, nil", plain, err, "Jens Hansen")
	}
}

func TestTenantKey_bindings(t *testing.T) {
	ctx := context.Background()
	v, _ := newVault()
	wrapped, err := v.NewTenantKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// KMS's encryption context binds the tenant key to its tenant.
	if _, err := v.TenantKey(ctx, "globex", wrapped); !errors.Is(err, vault.ErrDecrypt) {
		t.Errorf("TenantKey(other tenant) error = %v; want ErrDecrypt", err)
	}
	tk, _ := v.TenantKey(ctx, "acme", wrapped)
	sk, wrappedSK, _ := tk.NewSubjectKey("e.abc")
	if _, err := tk.OpenSubjectKey("e.other", wrappedSK); !errors.Is(err, vault.ErrDecrypt) {
		t.Errorf("OpenSubjectKey(other subject) error = %v; want ErrDecrypt", err)
	}
	sealed := sk.Seal([]byte("x"), vault.RecordAAD("acme", "lead-1"))
	tests := []struct {
		name string
		data []byte
		aad  []byte
	}{
		{"other record", sealed, vault.RecordAAD("acme", "lead-2")},
		{"other tenant", sealed, vault.RecordAAD("globex", "lead-1")},
		{"tampered", append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), vault.RecordAAD("acme", "lead-1")},
		{"truncated", sealed[:10], vault.RecordAAD("acme", "lead-1")},
		{"empty", nil, vault.RecordAAD("acme", "lead-1")},
	}
	for _, tt := range tests {
		if _, err := sk.Open(tt.data, tt.aad); !errors.Is(err, vault.ErrDecrypt) {
			t.Errorf("Open(%s) error = %v; want ErrDecrypt", tt.name, err)
		}
	}
}

func TestTenantKey_cacheBounds(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	v, k := newVault(vault.WithClock(func() time.Time { return now }))
	wrapped, err := v.NewTenantKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for range vault.DefaultMaxUses {
		if _, err := v.TenantKey(ctx, "acme", wrapped); err != nil {
			t.Fatal(err)
		}
	}
	if got := k.decrypt.Load(); got != 1 {
		t.Errorf("KMS Decrypt calls after %d uses = %d; want 1", vault.DefaultMaxUses, got)
	}
	if _, err := v.TenantKey(ctx, "acme", wrapped); err != nil {
		t.Fatal(err)
	}
	if got := k.decrypt.Load(); got != 2 {
		t.Errorf("KMS Decrypt calls after %d uses = %d; want 2 (use bound)", vault.DefaultMaxUses+1, got)
	}
	now = now.Add(vault.DefaultMaxAge)
	if _, err := v.TenantKey(ctx, "acme", wrapped); err != nil {
		t.Fatal(err)
	}
	if got := k.decrypt.Load(); got != 3 {
		t.Errorf("KMS Decrypt calls after %v = %d; want 3 (age bound)", vault.DefaultMaxAge, got)
	}
	v.Forget("acme")
	if _, err := v.TenantKey(ctx, "acme", wrapped); err != nil {
		t.Fatal(err)
	}
	if got := k.decrypt.Load(); got != 4 {
		t.Errorf("KMS Decrypt calls after Forget = %d; want 4", got)
	}
}

func TestTenantKey_cacheLimits(t *testing.T) {
	tests := []struct {
		name        string
		maxAge      time.Duration
		maxUses     int
		calls       int
		step        time.Duration // clock advance before each call after the first
		wantDecrypt int64
	}{
		{"uses within the bound", time.Minute, 5, 5, 0, 1},
		{"use bound exhausted", time.Minute, 5, 6, 0, 2},
		{"use bound exhausted twice", time.Minute, 5, 11, 0, 3},
		{"one use each", time.Minute, 1, 3, 0, 3},
		{"younger than the age bound", time.Minute, 100, 3, 29 * time.Second, 1},
		{"age bound reached", time.Minute, 100, 3, 30 * time.Second, 2},
		{"no caching with a zero age", 0, 100, 3, 0, 3},
		{"no caching with zero uses", time.Minute, 0, 3, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			var mu sync.Mutex
			now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			v, k := newVault(vault.WithClock(clock), vault.WithCacheLimits(tt.maxAge, tt.maxUses))
			wrapped, err := v.NewTenantKey(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.calls {
				if i > 0 {
					mu.Lock()
					now = now.Add(tt.step)
					mu.Unlock()
				}
				if _, err := v.TenantKey(ctx, "acme", wrapped); err != nil {
					t.Fatal(err)
				}
			}
			if got := k.decrypt.Load(); got != tt.wantDecrypt {
				t.Errorf("KMS Decrypt calls = %d; want %d", got, tt.wantDecrypt)
			}
		})
	}
}

// TestTenantKey_useBoundConcurrent checks that concurrent callers never get more uses out of one unwrapped
// key than the bound allows.
func TestTenantKey_useBoundConcurrent(t *testing.T) {
	ctx := context.Background()
	const maxUses, workers, perWorker = 50, 8, 100
	v, k := newVault(vault.WithCacheLimits(time.Minute, maxUses))
	wrapped, err := v.NewTenantKey(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	served := map[*vault.TenantKey]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				tk, err := v.TenantKey(ctx, "acme", wrapped)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				served[tk]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, n := range served {
		if n > maxUses {
			t.Errorf("one unwrapped key served %d uses; want at most %d", n, maxUses)
		}
	}
	if min := int64(workers * perWorker / maxUses); k.decrypt.Load() < min {
		t.Errorf("KMS Decrypt calls = %d; want at least %d", k.decrypt.Load(), min)
	}
}

func TestBlindIndex(t *testing.T) {
	ctx := context.Background()
	v, _ := newVault()
	wa, _ := v.NewTenantKey(ctx, "acme")
	wb, _ := v.NewTenantKey(ctx, "globex")
	a, _ := v.TenantKey(ctx, "acme", wa)
	b, _ := v.TenantKey(ctx, "globex", wb)
	first, again := a.BlindIndex("email", "x@y.dk"), a.BlindIndex("email", "x@y.dk")
	if first != again {
		t.Errorf("BlindIndex is not deterministic: %q, %q", first, again)
	}
	if a.BlindIndex("email", "x@y.dk") == b.BlindIndex("email", "x@y.dk") {
		t.Errorf("BlindIndex equal across tenants; want tenant-specific")
	}
	if a.BlindIndex("email", "x") == a.BlindIndex("phone", "x") {
		t.Errorf("BlindIndex equal across kinds; want kind-specific")
	}
	if a.Pseudonym("client-ip", "198.51.100.23") == a.BlindIndex("client-ip", "198.51.100.23") {
		t.Errorf("Pseudonym and BlindIndex share a key; want separate derived keys")
	}
}

func BenchmarkSubjectKeySeal(b *testing.B) {
	ctx := context.Background()
	v, _ := newVault()
	w, _ := v.NewTenantKey(ctx, "acme")
	tk, _ := v.TenantKey(ctx, "acme", w)
	sk, _, _ := tk.NewSubjectKey("e.x")
	msg := make([]byte, 400)
	aad := vault.RecordAAD("acme", "0193a0b4-7c1e-7d2a-9f00-123456789abc")
	b.ReportAllocs()
	for b.Loop() {
		sk.Seal(msg, aad)
	}
}
