package testenv

import (
	"context"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"leadvault/infra/local/awsclients"
)

// Calls counts the API requests real SDK clients send, by service and operation. It sees exactly what
// would be billed on AWS; nothing is faked.
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// NewCalls returns an empty counter.
func NewCalls() *Calls { return &Calls{n: map[string]int{}} }

// Count returns how many requests were made to service (e.g. "DynamoDB", "KMS"), optionally of one operation.
func (c *Calls) Count(service string, operation ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for k, v := range c.n {
		if len(operation) == 0 && len(k) > len(service) && k[:len(service)+1] == service+"." {
			total += v
		}
		for _, op := range operation {
			if k == service+"."+op {
				total += v
			}
		}
	}
	return total
}

// Reset zeroes the counts.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.n)
}

func (c *Calls) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("leadvault-count",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.n[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// Config returns the stand-ins' configuration with every client's requests counted by c.
func (c *Calls) Config() awsclients.Clients {
	cfg := Env.AWS
	cfg.AWS = cfg.AWS.Copy()
	cfg.AWS.APIOptions = append(cfg.AWS.APIOptions, c.middleware)
	return cfg
}
