package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"leadvault/shared/audit"
	"leadvault/shared/problem"
)

// maxExport is how many records one export answer holds; Lambda answers are at most 6 MB, and a record
// is well under 1 KB. The rest follows with the cursor in NextCursorHeader.
const maxExport = 5000

func (c *call) auditQuery() (audit.Query, *problem.Problem) {
	limit, cursor, p := c.page()
	if p != nil {
		return audit.Query{}, p
	}
	from, to, p := c.timeRange()
	if p != nil {
		return audit.Query{}, p
	}
	q := c.r.URL.Query()
	return audit.Query{From: from, To: to, Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Limit: limit, Cursor: cursor}, nil
}

func listAudit(c *call) error {
	q, p := c.auditQuery()
	if p != nil {
		return p
	}
	if err := c.record(ActionAuditRead); err != nil {
		return err
	}
	recs, next, err := c.h.Audit.List(c.ctx, c.tenant.ID, q)
	if errors.Is(err, audit.ErrBadCursor) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []audit.Record{} // an empty page is [], not null
	}
	return c.json(http.StatusOK, list[audit.Record]{Items: recs, Next: next})
}

// exportAudit answers the selected records as JSON lines (application/x-ndjson), newest first, up to
// maxExport per answer.
func exportAudit(c *call) error {
	q, p := c.auditQuery()
	if p != nil {
		return p
	}
	if err := c.record(ActionAuditExport); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	n := 0
	q.Limit = audit.MaxPage
	for {
		recs, next, err := c.h.Audit.List(c.ctx, c.tenant.ID, q)
		if errors.Is(err, audit.ErrBadCursor) {
			return badCursor()
		}
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		n += len(recs)
		q.Cursor = next
		if next == "" || n >= maxExport {
			break
		}
	}
	h := c.w.Header()
	h.Set("Content-Disposition", `attachment; filename="audit-`+c.tenant.ID+`.jsonl"`)
	if q.Cursor != "" {
		h.Set(NextCursorHeader, q.Cursor)
	}
	return c.write(http.StatusOK, "application/x-ndjson", buf.Bytes())
}

type verifyView struct {
	Intact   bool   `json:"intact"`
	Records  int64  `json:"records"`
	StartSeq int64  `json:"startSeq"`
	LastSeq  int64  `json:"lastSeq"`
	HeadSeq  int64  `json:"headSeq"`
	FirstBad int64  `json:"firstBad,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// verifyAudit walks the tenant's hash chain and reports the first gap or edit (M4/S15).
func verifyAudit(c *call) error {
	if err := c.record(ActionAuditVerify); err != nil {
		return err
	}
	r, err := c.h.Audit.Verify(c.ctx, c.tenant.ID)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, verifyView{Intact: r.Intact(), Records: r.Records, StartSeq: r.StartSeq, LastSeq: r.LastSeq,
		HeadSeq: r.HeadSeq, FirstBad: r.FirstBad, Problem: r.Problem})
}
