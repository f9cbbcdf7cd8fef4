package runtimeapi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"leadvault/infra/local/lambdazip"
	"leadvault/infra/local/repo"
	"leadvault/infra/local/runtimeapi"
	"leadvault/infra/local/syncw"
)

// benchEnv is the environment the functions get in benchmarks: enough configuration for their init,
// and an AWS endpoint nothing listens on, because init must not need the network.
var benchEnv = []string{
	"LEADVAULT_AWS_ENDPOINT=http://127.0.0.1:1",
	"LEADVAULT_TABLE=bench",
	"LEADVAULT_KEY_ID=bench",
	"LEADVAULT_SENT_BUCKET=bench",
	"LEADVAULT_NOTIFY_FROM=bench@example.invalid", "LEADVAULT_INBOUND_DOMAIN=in.example.invalid",
	// The controller refuses to start without its user pool (it invites users there).
	"LEADVAULT_USER_POOL_ID=eu-north-1_bench",
}

// benchFunction is one function to benchmark: the hello baseline or a directory under functions/.
type benchFunction struct {
	name   string
	pkgDir string
	probe  []byte // the first invocation's payload
}

// benchFunctions returns hello and every directory under functions/ that holds Go files, each with
// events/<fn>/init-probe.json as its probe if present, else {}.
func benchFunctions(b *testing.B) []benchFunction {
	b.Helper()
	root, err := repo.FromWorkingDir()
	if err != nil {
		b.Fatal(err)
	}
	fns := []benchFunction{{name: "hello", pkgDir: filepath.Join(root, "infra", "local", "bench", "hello"), probe: []byte(`{}`)}}
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if errors.Is(err, os.ErrNotExist) {
		return fns
	} else if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		dir := filepath.Join(root, "functions", e.Name())
		if !e.IsDir() {
			continue
		}
		if gos, _ := filepath.Glob(filepath.Join(dir, "*.go")); len(gos) == 0 {
			continue
		}
		probe, err := os.ReadFile(filepath.Join(root, "events", e.Name(), "init-probe.json"))
		if errors.Is(err, os.ErrNotExist) {
			probe = []byte(`{}`)
		} else if err != nil {
			b.Fatal(err)
		}
		fns = append(fns, benchFunction{name: e.Name(), pkgDir: dir, probe: probe})
	}
	return fns
}

// BenchmarkInit measures a cold start per iteration: a fresh process from a prebuilt bootstrap, from
// process start until its first invocation is answered (a response or a function error both count;
// the point is init, not business success), then Close. It reports the mean as ms-to-first-invoke,
// its p50 and p99, and init-ms, the part until the function first asks for an invocation.
func BenchmarkInit(b *testing.B) {
	for _, fn := range benchFunctions(b) {
		b.Run(fn.name, func(b *testing.B) {
			bin := bootstrap(b, "functions/"+fn.name, fn.pkgDir)
			ctx := context.Background()
			logs := &syncw.Buffer{}
			var toFirst, inits []time.Duration
			for b.Loop() {
				logs = &syncw.Buffer{}
				began := time.Now()
				h, err := runtimeapi.Start(ctx, runtimeapi.Options{
					Bootstrap: bin,
					Env:       benchEnv,
					Timeout:   10 * time.Second,
					Stdout:    logs,
					Stderr:    logs,
				})
				if err != nil {
					b.Fatalf("start %s: %v\nfunction output:\n%s", fn.name, err, logs.String())
				}
				_, err = h.Invoke(ctx, fn.probe)
				elapsed := time.Since(began)
				var fe *runtimeapi.FunctionError
				if err != nil && !errors.As(err, &fe) {
					_ = h.Close()
					b.Fatalf("first invoke of %s: %v\nfunction output:\n%s", fn.name, err, logs.String())
				}
				toFirst = append(toFirst, elapsed)
				inits = append(inits, h.InitDuration())
				if err := h.Close(); err != nil {
					b.Fatalf("close %s: %v", fn.name, err)
				}
			}
			b.ReportMetric(msOf(mean(toFirst)), "ms-to-first-invoke")
			b.ReportMetric(msOf(percentile(toFirst, 50)), "p50-ms")
			b.ReportMetric(msOf(percentile(toFirst, 99)), "p99-ms")
			b.ReportMetric(msOf(mean(inits)), "init-ms")
		})
	}
}

// BenchmarkZipSize builds each function for Lambda (linux/arm64) once and zips it per iteration,
// reporting the deployment zip's size as zip-bytes and the executable's as bin-bytes; ns/op is the
// time to zip.
func BenchmarkZipSize(b *testing.B) {
	for _, fn := range benchFunctions(b) {
		b.Run(fn.name, func(b *testing.B) {
			bin := filepath.Join(binDir, "lambda", fn.name, lambdazip.EntryName)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			if err := lambdazip.BuildBinary(ctx, fn.pkgDir, bin, lambdazip.GOOS, lambdazip.GOARCH); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(bin)
			if err != nil {
				b.Fatal(err)
			}
			zipPath := filepath.Join(b.TempDir(), fn.name+".zip")
			var size int64
			for b.Loop() {
				if size, err = lambdazip.Zip(bin, zipPath); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "zip-bytes")
			b.ReportMetric(float64(fi.Size()), "bin-bytes")
		})
	}
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// percentile returns the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := (p*len(s) + 99) / 100 // ceil(p/100 * n)
	return s[max(rank, 1)-1]
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
