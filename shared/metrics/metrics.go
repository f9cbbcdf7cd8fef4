// Package metrics counts events as CloudWatch Embedded Metric Format (EMF) log lines: in Lambda, CloudWatch
// turns such a line into a metric with no API call and no extra permission; locally it is just a log line.
package metrics

import (
	"context"
	"log/slog"
	"time"
)

// Namespace is the CloudWatch namespace of Leadvault's metrics.
const Namespace = "Leadvault"

// Count logs one occurrence of metric name with its dimensions (e.g. "Outcome": "unknown_alias").
// Dimension values must never be personal data: use outcomes, reasons and ids.
func Count(ctx context.Context, log *slog.Logger, msg, name string, dims map[string]string, attrs ...any) {
	Add(ctx, log, msg, name, 1, dims, attrs...)
}

// Add logs n occurrences of metric name with its dimensions, as Count does one.
func Add(ctx context.Context, log *slog.Logger, msg, name string, n int, dims map[string]string, attrs ...any) {
	keys := make([]string, 0, len(dims))
	args := make([]any, 0, 2*len(dims)+len(attrs)+4)
	for k, v := range dims {
		keys = append(keys, k)
		args = append(args, k, v)
	}
	args = append(args, name, n, slog.Group("_aws",
		"Timestamp", time.Now().UnixMilli(),
		"CloudWatchMetrics", []map[string]any{{
			"Namespace":  Namespace,
			"Dimensions": [][]string{keys},
			"Metrics":    []map[string]string{{"Name": name, "Unit": "Count"}},
		}},
	))
	log.InfoContext(ctx, msg, append(args, attrs...)...)
}
