package controlapi

import (
	"mime"
	"net/http"
	"strings"

	"leadvault/shared/posture"
	"leadvault/shared/problem"
	"leadvault/shared/record"
)

// markdownWanted reads Accept: true for text/markdown, false for JSON (application/json, */*, none);
// any other explicit choice is 406.
func (c *call) markdownWanted() (bool, *problem.Problem) {
	accept := strings.TrimSpace(c.r.Header.Get("Accept"))
	if accept == "" {
		return false, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "text/markdown":
			return true, nil
		case "application/json", "application/*", "*/*":
			return false, nil
		}
	}
	return false, problem.New(http.StatusNotAcceptable, "not-acceptable", "Not Acceptable",
		"This document is available as application/json or text/markdown.")
}

// answerDocument answers v as JSON, or md as Markdown when the client asks for it.
func (c *call) answerDocument(v any, md func() string) error {
	wantMD, p := c.markdownWanted()
	if p != nil {
		return p
	}
	if wantMD {
		return c.write(http.StatusOK, "text/markdown; charset=utf-8", []byte(md()))
	}
	return c.json(http.StatusOK, v)
}

// getMeasures answers the technical and organisational measures as configured (shared/posture).
func getMeasures(c *call) error {
	if err := c.record(ActionMeasuresRead); err != nil {
		return err
	}
	return c.answerDocument(map[string]any{"measures": posture.Measures()}, posture.MeasuresMarkdown)
}

// getSubprocessors answers the register of sub-processors.
func getSubprocessors(c *call) error {
	if err := c.record(ActionSubprocessorsRead); err != nil {
		return err
	}
	return c.json(http.StatusOK, map[string]any{"processor": posture.Processor.Name, "subprocessors": posture.Subprocessors()})
}

// getProcessingRecord answers the record of processing activities for the caller's tenant, built from its
// live forms.
func getProcessingRecord(c *call) error {
	forms, err := c.data.AllForms(c.ctx)
	if err != nil {
		return err
	}
	contact := ""
	if b, err := c.data.Billing(c.ctx); err == nil && b.Contact != nil {
		contact = b.Contact.Email
	} else if err != nil {
		return err
	}
	if err := c.record(ActionProcessingRecordRead); err != nil {
		return err
	}
	r := record.Build(c.tenant, forms, contact, posture.DefaultInboundRegion, c.h.Now())
	return c.answerDocument(r, r.Markdown)
}
