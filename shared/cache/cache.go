// Package cache is Leadvault's one in-process cache: bounded in entries (least recently used goes first)
// and expiring by age, built on expirable.LRU.
//
// Every entry also carries the time it was added, read from the caller's clock, and Get refuses an entry
// whose age has reached the TTL by that clock too. The TTL is a security bound (a data key's lifetime,
// the settle time of a campaign deletion), so it holds by both the wall clock and an injected test clock.
package cache

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// Cache holds at most size entries, each for less than ttl. It is safe for concurrent use.
//
// Each Cache with entries runs one background goroutine (expirable's sweeper) for the life of the
// process: create caches once per handler, not per request.
type Cache[K comparable, V any] struct {
	lru *expirable.LRU[K, entry[V]]
	ttl time.Duration
	now func() time.Time
}

type entry[V any] struct {
	v  V
	at time.Time
}

// New returns a cache of at most size entries that serves each for less than ttl, measured by now
// (time.Now if nil). A size or ttl ≤ 0 gives a cache that holds nothing: no bound never means unbounded.
func New[K comparable, V any](size int, ttl time.Duration, now func() time.Time) *Cache[K, V] {
	if now == nil {
		now = time.Now
	}
	c := &Cache[K, V]{ttl: ttl, now: now}
	if size > 0 && ttl > 0 {
		c.lru = expirable.NewLRU[K, entry[V]](size, nil, ttl)
	}
	return c
}

// Get returns the value cached for k, if any and younger than the TTL.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	var zero V
	if c.lru == nil {
		return zero, false
	}
	e, ok := c.lru.Get(k)
	if !ok {
		return zero, false
	}
	if c.now().Sub(e.at) >= c.ttl {
		c.lru.Remove(k)
		return zero, false
	}
	return e.v, true
}

// Add caches v for k from now on, replacing any earlier value and evicting the least recently used entry
// when the cache is full.
func (c *Cache[K, V]) Add(k K, v V) {
	if c.lru == nil {
		return
	}
	c.lru.Add(k, entry[V]{v: v, at: c.now()})
}

// Remove drops k's entry.
func (c *Cache[K, V]) Remove(k K) {
	if c.lru != nil {
		c.lru.Remove(k)
	}
}

// RemoveFunc drops every entry for which drop returns true, and every expired one.
func (c *Cache[K, V]) RemoveFunc(drop func(K, V) bool) {
	if c.lru == nil {
		return
	}
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); !ok || drop(k, e.v) {
			c.lru.Remove(k)
		}
	}
}

// Len returns the number of entries held, expired ones not yet swept included.
func (c *Cache[K, V]) Len() int {
	if c.lru == nil {
		return 0
	}
	return c.lru.Len()
}
