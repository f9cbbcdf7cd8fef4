package normalize

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkParsePhone measures one number once the phone metadata is loaded, as on a warm function.
func BenchmarkParsePhone(b *testing.B) {
	if _, _, err := ParsePhone("20 12 34 56", "DK", PhonePossible); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParsePhone("+45 20 12 34 56", "DK", PhonePossible); err != nil {
			b.Fatal(err)
		}
	}
}

const firstUseEnv = "LEADVAULT_PHONE_FIRST_USE"

// BenchmarkParsePhone_firstUse measures the first number a process parses, which loads the phone metadata
// and compiles the regular expressions the number needs: each iteration runs this test binary afresh as
// TestParsePhone_firstUseHelper, which times that one call. It reports the mean, p50 and p99 in ms; ns/op is
// the whole process and says nothing.
func BenchmarkParsePhone_firstUse(b *testing.B) {
	var ds []time.Duration
	for b.Loop() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestParsePhone_firstUseHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), firstUseEnv+"=1")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("helper: %v\n%s", err, out)
		}
		_, after, ok := strings.Cut(string(out), "first-use-ns=")
		if !ok {
			b.Fatalf("helper printed no time:\n%s", out)
		}
		ns, err := strconv.ParseInt(strings.Fields(after)[0], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Duration(ns))
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(sum/time.Duration(len(ds))), "first-ms")
	b.ReportMetric(ms(ds[len(ds)/2]), "p50-ms")
	b.ReportMetric(ms(ds[(len(ds)*99+99)/100-1]), "p99-ms")
}

// TestParsePhone_firstUseHelper is BenchmarkParsePhone_firstUse's fresh process; it does nothing in an
// ordinary test run.
func TestParsePhone_firstUseHelper(t *testing.T) {
	if os.Getenv(firstUseEnv) == "" {
		t.Skip("run by BenchmarkParsePhone_firstUse")
	}
	start := time.Now()
	_, _, err := ParsePhone("20 12 34 56", "DK", PhonePossible)
	d := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("first-use-ns=%d\n", d.Nanoseconds())
}
