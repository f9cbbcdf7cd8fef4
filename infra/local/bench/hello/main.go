// Command hello is the smallest useful aws-lambda-go function: it answers every invocation with
// {"ok":true}. It is the baseline that BenchmarkInit and BenchmarkZipSize compare Leadvault's
// functions against, so it must stay free of dependencies beyond aws-lambda-go.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

type response struct {
	OK bool `json:"ok"`
}

func handle(context.Context) (response, error) {
	return response{OK: true}, nil
}

func main() {
	lambda.Start(handle)
}
