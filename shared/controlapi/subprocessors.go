package controlapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

type objectionView struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

type changeView struct {
	ID                string         `json:"id"`
	Kind              string         `json:"kind"`
	Name              string         `json:"name"`
	Address           string         `json:"address"`
	Service           string         `json:"service"`
	Data              string         `json:"data"`
	Location          string         `json:"location"`
	Replaces          string         `json:"replaces,omitempty"`
	EffectiveAt       time.Time      `json:"effectiveAt"`
	ProposedAt        time.Time      `json:"proposedAt"`
	ObjectionDeadline time.Time      `json:"objectionDeadline"`
	ObjectionOpen     bool           `json:"objectionOpen"`
	Objection         *objectionView `json:"objection,omitempty"`
}

// listSubprocessorChanges shows the planned changes of sub-processors, with the tenant's objection.
func listSubprocessorChanges(c *call) error {
	changes, err := c.data.SubprocessorChanges(c.ctx)
	if err != nil {
		return err
	}
	now := c.h.Now()
	items := make([]changeView, 0, len(changes))
	var targets []string
	for _, ch := range changes {
		v := changeView{ID: ch.ID, Kind: ch.Kind, Name: ch.Name, Address: ch.Address, Service: ch.Service, Data: ch.Data,
			Location: ch.Location, Replaces: ch.Replaces, EffectiveAt: ch.EffectiveAt.UTC(), ProposedAt: ch.ProposedAt.UTC(),
			ObjectionDeadline: ch.ObjectionDeadline.UTC(), ObjectionOpen: !now.After(ch.ObjectionDeadline)}
		if o, err := c.data.Objection(c.ctx, ch.ID); err == nil {
			v.Objection = &objectionView{Reason: o.Reason, At: o.At.UTC()}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		items = append(items, v)
		targets = append(targets, "change:"+ch.ID)
	}
	if err := c.record(ActionSubprocessorChanges, targets...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[changeView]{Items: items})
}

// maxObjectionReason bounds an objection's reason.
const maxObjectionReason = 2000

// objectToChange records the tenant's objection to a planned change, within 7 days of its announcement;
// later it is 409 with the deadline.
func objectToChange(c *call) error {
	id, ok := c.param("changeID")
	if !ok {
		return notFound("No such change.")
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if p := c.decode(&body); p != nil {
		return p
	}
	body.Reason = strings.TrimSpace(body.Reason)
	if body.Reason == "" || len(body.Reason) > maxObjectionReason {
		return invalid(problem.FieldError{Field: "reason", Code: "required", Message: "Give the reason for the objection (at most 2000 characters)."})
	}
	ch, err := c.data.SubprocessorChange(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such change.")
	}
	if err != nil {
		return err
	}
	now := c.h.Now()
	if now.After(ch.ObjectionDeadline) {
		return conflict("objection-closed", "Objections to this change were accepted until "+ch.ObjectionDeadline.UTC().Format(time.RFC3339)+".")
	}
	if err := c.record(ActionSubprocessorObjection, "change:"+id); err != nil {
		return err
	}
	if _, err := c.data.Object(c.ctx, domain.Objection{Change: id, Reason: body.Reason, By: c.caller.UserID, At: now}); err != nil {
		if errors.Is(err, store.ErrObjectionClosed) {
			return conflict("objection-closed", "Objections to this change were accepted until "+ch.ObjectionDeadline.UTC().Format(time.RFC3339)+".")
		}
		return err
	}
	return c.json(http.StatusCreated, objectionView{Reason: body.Reason, At: now.UTC()})
}

type transferInstructionView struct {
	Location  string    `json:"location"`
	Reference string    `json:"reference"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// validRegion reports whether s looks like an AWS region name.
func validRegion(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) < 3 || len(s) > 30 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			return false
		}
	}
	return true
}

// recordTransferInstruction records the controller's documented instruction that its data may be processed
// in a region outside the EU (S6). Without one from every tenant, no sub-processor there can be announced.
func recordTransferInstruction(c *call) error {
	var body struct {
		Location  string `json:"location"`
		Reference string `json:"reference"`
	}
	if p := c.decode(&body); p != nil {
		return p
	}
	body.Location, body.Reference = strings.TrimSpace(body.Location), strings.TrimSpace(body.Reference)
	var errs []problem.FieldError
	if !validRegion(body.Location) {
		errs = append(errs, problem.FieldError{Field: "location", Code: "invalid", Message: "Name an AWS region, e.g. us-east-1."})
	} else if strings.HasPrefix(body.Location, "eu-") {
		errs = append(errs, problem.FieldError{Field: "location", Code: "invalid", Message: "EU regions need no instruction."})
	}
	if body.Reference == "" || len(body.Reference) > 500 {
		errs = append(errs, problem.FieldError{Field: "reference", Code: "required", Message: "Reference the documented instruction (e.g. the signed clauses), at most 500 characters."})
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	if err := c.record(ActionTransferInstruction, "location:"+body.Location); err != nil {
		return err
	}
	now := c.h.Now()
	if err := c.data.RecordTransferInstruction(c.ctx, domain.TransferInstruction{Location: body.Location, Reference: body.Reference,
		By: c.caller.UserID, At: now}); err != nil {
		return err
	}
	return c.json(http.StatusCreated, transferInstructionView{Location: body.Location, Reference: body.Reference, By: c.caller.UserID, At: now.UTC()})
}

// listTransferInstructions shows the tenant's transfer instructions.
func listTransferInstructions(c *call) error {
	ins, err := c.data.TransferInstructions(c.ctx)
	if err != nil {
		return err
	}
	items := make([]transferInstructionView, 0, len(ins))
	for _, in := range ins {
		items = append(items, transferInstructionView{Location: in.Location, Reference: in.Reference, By: in.By, At: in.At.UTC()})
	}
	if err := c.record(ActionTransferInstructionList); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[transferInstructionView]{Items: items})
}
