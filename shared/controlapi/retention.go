package controlapi

import (
	"net/http"
	"strings"
	"time"

	"leadvault/shared/store"
)

// maxReportDays bounds a deletion report's range.
const maxReportDays = 366

type deletionDayView struct {
	Date     string           `json:"date"`
	ByReason map[string]int64 `json:"byReason"`
	Total    int64            `json:"total"`
}

type deletionReportView struct {
	From   string            `json:"from"`
	To     string            `json:"to"`
	Days   []deletionDayView `json:"days"`
	Totals map[string]int64  `json:"totals"`
	Total  int64             `json:"total"`
}

// retentionReport is the tenant's proof of deletion: per day, how many leads were deleted and why
// (retention, erasure, campaign, lead, contract end), without personal data. from and to are dates
// (YYYY-MM-DD, or RFC 3339 times, whose UTC date counts), inclusive; the default is the last 30 days.
func retentionReport(c *call) error {
	now := c.h.Now().UTC()
	q := c.r.URL.Query()
	day := func(name string, def time.Time) (time.Time, bool) {
		s := strings.TrimSpace(q.Get(name))
		if s == "" {
			return def, true
		}
		if t, err := time.Parse(time.DateOnly, s); err == nil {
			return t, true
		}
		t, err := time.Parse(time.RFC3339, strings.ReplaceAll(s, " ", "+"))
		return t.UTC(), err == nil
	}
	to, ok := day("to", now)
	if !ok {
		return badQuery("to", "to must be a date (2026-12-31) or an RFC 3339 time.")
	}
	from, ok := day("from", to.AddDate(0, 0, -29))
	if !ok {
		return badQuery("from", "from must be a date (2026-12-01) or an RFC 3339 time.")
	}
	from, to = from.Truncate(24*time.Hour), to.Truncate(24*time.Hour)
	if to.Before(from) {
		return badQuery("to", "to must not be before from.")
	}
	if to.Sub(from) > maxReportDays*24*time.Hour {
		return badQuery("from", "A report covers at most 366 days.")
	}
	days, err := c.data.DeletionReport(c.ctx, from, to)
	if err != nil {
		return err
	}
	v := deletionReportView{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Days: []deletionDayView{},
		Totals: map[string]int64{}}
	for _, r := range store.DeletionReasons {
		v.Totals[r] = 0
	}
	for _, d := range days {
		dv := deletionDayView{Date: d.Day, ByReason: map[string]int64{}}
		for _, r := range store.DeletionReasons {
			dv.ByReason[r] = d.ByReason[r]
			dv.Total += d.ByReason[r]
			v.Totals[r] += d.ByReason[r]
		}
		v.Total += dv.Total
		v.Days = append(v.Days, dv)
	}
	if err := c.record(ActionRetentionReport, "from:"+v.From, "to:"+v.To); err != nil {
		return err
	}
	return c.json(http.StatusOK, v)
}
