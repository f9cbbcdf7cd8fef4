package cache_test

import (
	"sync/atomic"
	"testing"
	"time"

	"leadvault/shared/cache"
)

// clock is a test clock that only moves when told.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func TestCache_ttlByInjectedClock(t *testing.T) {
	tests := []struct {
		name string
		age  time.Duration
		want bool
	}{
		{"fresh", 0, true},
		{"just younger than the TTL", 30*time.Second - time.Nanosecond, true},
		{"at the TTL", 30 * time.Second, false},
		{"older", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			c := cache.New[string, int](8, 30*time.Second, clk.now)
			c.Add("a", 1)
			clk.add(tt.age)
			if _, ok := c.Get("a"); ok != tt.want {
				t.Errorf("Get after %v = %t; want %t", tt.age, ok, tt.want)
			}
		})
	}
}

func TestCache_ttlByWallClock(t *testing.T) {
	c := cache.New[string, int](8, 20*time.Millisecond, nil)
	c.Add("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get = %d, %t; want 1, true", v, ok)
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok := c.Get("a"); ok {
		t.Error("Get after the TTL by the wall clock served the entry")
	}
}

func TestCache_sizeEvictsLeastRecentlyUsed(t *testing.T) {
	c := cache.New[int, int](3, time.Minute, nil)
	for i := range 3 {
		c.Add(i, i)
	}
	c.Get(0) // 1 is now the least recently used
	c.Add(3, 3)
	tests := []struct {
		key  int
		want bool
	}{{0, true}, {1, false}, {2, true}, {3, true}}
	for _, tt := range tests {
		if _, ok := c.Get(tt.key); ok != tt.want {
			t.Errorf("Get(%d) ok = %t; want %t", tt.key, ok, tt.want)
		}
	}
	if got := c.Len(); got != 3 {
		t.Errorf("Len = %d; want 3", got)
	}
}

func TestCache_noBoundHoldsNothing(t *testing.T) {
	tests := []struct {
		name string
		size int
		ttl  time.Duration
	}{
		{"zero size", 0, time.Minute},
		{"negative size", -1, time.Minute},
		{"zero ttl", 8, 0},
		{"negative ttl", 8, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cache.New[string, int](tt.size, tt.ttl, nil)
			c.Add("a", 1)
			if _, ok := c.Get("a"); ok {
				t.Error("Get served an entry")
			}
			c.Remove("a")
			c.RemoveFunc(func(string, int) bool { return true })
			if got := c.Len(); got != 0 {
				t.Errorf("Len = %d; want 0", got)
			}
		})
	}
}

func TestCache_removeAndRemoveFunc(t *testing.T) {
	c := cache.New[string, int](8, time.Minute, nil)
	c.Add("a", 1)
	c.Add("b", 2)
	c.Add("c", 3)
	c.Remove("a")
	c.RemoveFunc(func(_ string, v int) bool { return v == 2 })
	for k, want := range map[string]bool{"a": false, "b": false, "c": true} {
		if _, ok := c.Get(k); ok != want {
			t.Errorf("Get(%s) ok = %t; want %t", k, ok, want)
		}
	}
}

func TestCache_addReplacesAndRestartsAge(t *testing.T) {
	clk := newClock()
	c := cache.New[string, int](8, time.Minute, clk.now)
	c.Add("a", 1)
	clk.add(50 * time.Second)
	c.Add("a", 2)
	clk.add(50 * time.Second)
	if v, ok := c.Get("a"); !ok || v != 2 {
		t.Errorf("Get = %d, %t; want 2, true", v, ok)
	}
}

// BenchmarkCache_Get measures a hit, the path every lead takes for its form, tenant and data key.
func BenchmarkCache_Get(b *testing.B) {
	c := cache.New[string, int](1024, time.Minute, nil)
	c.Add("acme", 1)
	for b.Loop() {
		if _, ok := c.Get("acme"); !ok {
			b.Fatal("miss")
		}
	}
}
