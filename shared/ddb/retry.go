// Package ddb is what the store and the audit log share in talking to DynamoDB: items marshalled by the
// SDK's attributevalue from tagged types (Marshal, Unmarshal), expressions built by its expression package
// (Build, OnlyIf), and the one policy for a transaction that lost a race with a concurrent writer — which
// errors are worth another attempt (Contended), and how long to wait before it (Backoff).
package ddb

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TxAttempts is how often a transaction that keeps losing races is tried before its caller gives up.
// Callers whose items are contended by design (the audit chain's head, one per tenant) may allow more.
const TxAttempts = 8

// Backoff waits before another attempt: jittered and growing exponentially (2 ms doubling, at most 200 ms),
// so that writers that collided do not collide again in step. It returns early with ctx's error.
func Backoff(ctx context.Context, attempt int) error {
	d := min(2*time.Millisecond<<min(attempt, 7), 200*time.Millisecond)
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Cancelled returns the cancellation of a transaction, or nil when err is not one. Its reasons say, per
// item in order, which condition failed (and, where asked for, the item as it is now).
func Cancelled(err error) *types.TransactionCanceledException {
	var c *types.TransactionCanceledException
	if errors.As(err, &c) {
		return c
	}
	return nil
}

// Contended reports whether err is a transaction that lost a race — cancelled because a condition or a
// concurrent transaction got in the way, or refused for a conflict — and so may succeed if tried again.
func Contended(err error) bool {
	var conflict *types.TransactionConflictException
	return Cancelled(err) != nil || errors.As(err, &conflict)
}

// Code is the cancellation code of one item of a cancelled transaction ("None" when that item was
// fine, "ConditionalCheckFailed", "TransactionConflict", …).
func Code(r types.CancellationReason) string {
	if r.Code == nil {
		return ""
	}
	return *r.Code
}
