package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestCount_emf(t *testing.T) {
	var buf bytes.Buffer
	Count(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)), "mail rejected", "InboundMail",
		map[string]string{"Outcome": "unknown_alias"}, "object", "inbound/abc")
	var line struct {
		Outcome     string
		InboundMail int
		AWS         struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("Count() wrote %q: %v", buf.String(), err)
	}
	m := line.AWS.CloudWatchMetrics
	if line.Outcome != "unknown_alias" || line.InboundMail != 1 || len(m) != 1 || m[0].Namespace != Namespace ||
		m[0].Dimensions[0][0] != "Outcome" || m[0].Metrics[0].Name != "InboundMail" || m[0].Metrics[0].Unit != "Count" {
		t.Errorf("Count() line = %s; want an EMF count of InboundMail by Outcome", buf.String())
	}
}
