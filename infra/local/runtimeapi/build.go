package runtimeapi

import (
	"context"
	"runtime"

	"leadvault/infra/local/lambdazip"
)

// BuildBootstrap builds the main package in pkgDir for the host's OS and architecture, the way the
// Lambda build does otherwise (CGO_ENABLED=0, -tags lambda.norpc -trimpath -ldflags "-s -w"), and
// writes the executable to outPath for Start.
func BuildBootstrap(ctx context.Context, pkgDir, outPath string) error {
	return lambdazip.BuildBinary(ctx, pkgDir, outPath, runtime.GOOS, runtime.GOARCH)
}
