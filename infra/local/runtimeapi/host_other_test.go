//go:build !linux

package runtimeapi_test

// runHelperIfAsked has nothing to do: the parent-death test is Linux-only, like Pdeathsig.
func runHelperIfAsked() {}
