// Command lambdazip builds each named function directory for Lambda (linux/arm64, bootstrap) and
// packs it into a reproducible deployment zip:
//
//	go run ./infra/local/lambdazip/cmd/lambdazip -out dist functions/*
//
// It writes dist/<fn>/bootstrap and dist/<fn>.zip, prints one "<fn> <zip-bytes>" line per function,
// and exits non-zero if any build fails or any zip is larger than its budget: -max bytes, or the
// function's own -max-for fn=bytes where one is given (a regression guard for a function known to miss
// the -max target; docs/benchmarks.md says which and why). With -go, it also fails if a bootstrap was built
// by another Go toolchain than the one named (read from the binary's build information, as `go version -m`
// does), so no zip ships with a toolchain other than the patched one. Arguments that are not directories (a README
// next to the functions, say) are skipped with a note on stderr.
package main

import (
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"leadvault/infra/local/lambdazip"
)

// defaultMax is 3.5 MiB, the budget for one function's deployment zip.
const defaultMax = 3670016

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit code (0 ok, 1 failed or over budget, 2 usage).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lambdazip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "dist", "output `dir`: <dir>/<fn>/bootstrap and <dir>/<fn>.zip")
	maxBytes := fs.Int64("max", defaultMax, "fail if a zip is larger than this many `bytes`")
	goVersion := fs.String("go", "", "fail if a bootstrap was built by a Go toolchain other than this `version` (e.g. go1.27.3)")
	budgets := budgetFlag{}
	fs.Var(budgets, "max-for", "a function's own budget as `fn=bytes` (repeatable); overrides -max for it")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: lambdazip [-out dir] [-max bytes] [-max-for fn=bytes]... function-dir...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}

	code := 0
	for _, dir := range fs.Args() {
		if fi, err := os.Stat(dir); err != nil {
			fmt.Fprintf(stderr, "lambdazip: %v\n", err)
			code = 1
			continue
		} else if !fi.IsDir() {
			fmt.Fprintf(stderr, "lambdazip: skipping %s: not a directory\n", dir)
			continue
		}
		fn := filepath.Base(filepath.Clean(dir))
		_, size, err := lambdazip.Build(ctx, dir, *out)
		if err != nil {
			fmt.Fprintf(stderr, "lambdazip: %s: %v\n", fn, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s %d\n", fn, size)
		if *goVersion != "" {
			bootstrap := filepath.Join(*out, fn, lambdazip.EntryName)
			info, err := buildinfo.ReadFile(bootstrap)
			switch {
			case err != nil:
				fmt.Fprintf(stderr, "lambdazip: %s: reading the bootstrap's build information: %v\n", fn, err)
				code = 1
			case info.GoVersion != *goVersion:
				fmt.Fprintf(stderr, "lambdazip: %s: bootstrap built with %s, want %s (export GOTOOLCHAIN=%s)\n",
					fn, info.GoVersion, *goVersion, *goVersion)
				code = 1
			}
		}
		budget, own := budgets[fn]
		if !own {
			budget = *maxBytes
		}
		switch {
		case size > budget:
			fmt.Fprintf(stderr, "lambdazip: %s: zip is %d bytes, over its budget of %d\n", fn, size, budget)
			code = 1
		case size > *maxBytes:
			fmt.Fprintf(stderr, "lambdazip: %s: zip is %d bytes, %d over the %d target (within its own budget of %d)\n",
				fn, size, size-*maxBytes, *maxBytes, budget)
		}
	}
	return code
}

// budgetFlag collects -max-for fn=bytes values.
type budgetFlag map[string]int64

func (b budgetFlag) String() string { return fmt.Sprint(map[string]int64(b)) }

func (b budgetFlag) Set(v string) error {
	fn, n, ok := strings.Cut(v, "=")
	size, err := strconv.ParseInt(n, 10, 64)
	if !ok || fn == "" || err != nil || size <= 0 {
		return fmt.Errorf("want fn=bytes, got %q", v)
	}
	b[fn] = size
	return nil
}
