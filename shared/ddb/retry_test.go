package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
)

func TestContended_cases(t *testing.T) {
	cancelled := &types.TransactionCanceledException{CancellationReasons: []types.CancellationReason{
		{Code: aws.String("None")}, {Code: aws.String("ConditionalCheckFailed")},
	}}
	cases := []struct {
		name      string
		err       error
		contended bool
		cancelled bool
	}{
		{"cancelled", cancelled, true, true},
		{"wrapped cancellation", fmt.Errorf("put lead: %w", cancelled), true, true},
		{"conflict", &types.TransactionConflictException{}, true, false},
		{"throttled", &types.ProvisionedThroughputExceededException{}, false, false},
		{"other", errors.New("boom"), false, false},
		{"nil", nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ddb.Contended(c.err); got != c.contended {
				t.Errorf("Contended = %v; want %v", got, c.contended)
			}
			if got := ddb.Cancelled(c.err) != nil; got != c.cancelled {
				t.Errorf("Cancelled != nil is %v; want %v", got, c.cancelled)
			}
		})
	}
	if got := ddb.Code(cancelled.CancellationReasons[1]); got != "ConditionalCheckFailed" {
		t.Errorf("Code = %q", got)
	}
	if got := ddb.Code(types.CancellationReason{}); got != "" {
		t.Errorf("Code of a reason without one = %q; want empty", got)
	}
}

func TestBackoff_endsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A high attempt would wait up to 200 ms; a cancelled context returns at once with its error.
	if err := ddb.Backoff(ctx, 20); !errors.Is(err, context.Canceled) {
		t.Errorf("Backoff on a cancelled context = %v; want context.Canceled", err)
	}
	if err := ddb.Backoff(context.Background(), 0); err != nil {
		t.Errorf("Backoff(0) = %v; want nil after at most 2 ms", err)
	}
}
