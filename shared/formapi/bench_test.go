package formapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/infra/local/testenv"
	"leadvault/shared/domain"
	"leadvault/shared/formapi"
	"leadvault/shared/intake"
)

// acceptAll is an intake that finds every form and accepts every submission without storing it: the
// benchmark below measures the HTTP layer alone (event → request → answer → event), which is what the
// Lambda adapter and the mux changed. The whole pipeline with DynamoDB and KMS is BenchmarkIntakePipeline.
type acceptAll struct{ form domain.Form }

func (a acceptAll) Form(context.Context, string) (domain.Form, error) { return a.form, nil }
func (a acceptAll) Submit(context.Context, domain.Form, intake.Submission) (intake.Result, error) {
	return intake.Result{LeadID: "01a23cdd-a909-77a5-ae36-d1e95bebc6bc"}, nil
}

// BenchmarkHandle answers the urlencoded fixture (a browser's post, CORS, answered with a 303 to the
// form's thank-you page) and the JSON fixture (a script's post, answered 201 JSON) through the Lambda
// entry point.
func BenchmarkHandle(b *testing.B) {
	f := testenv.Form("demo", "demo-contact")
	f.AllowedOrigins = []string{"http://localhost:8080"}
	f.RedirectURL = "http://localhost:8080/demo/thanks.html"
	h := formapi.New(acceptAll{form: f}, slog.New(slog.DiscardHandler))
	for _, name := range []string{"urlencoded", "json"} {
		raw, err := os.ReadFile("../../events/intake/" + name + ".json")
		if err != nil {
			b.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := h.Handle(context.Background(), ev)
				if err != nil || resp.StatusCode >= 400 {
					b.Fatalf("Handle = %d %s %v", resp.StatusCode, resp.Body, err)
				}
			}
		})
	}
}
