package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"leadvault/shared/access"
	"leadvault/shared/domain"
	"leadvault/shared/httpapi"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

func listForms(c *call) error {
	limit, cursor, p := c.page()
	if p != nil {
		return p
	}
	forms, next, err := c.data.Forms(c.ctx, limit, cursor)
	if errors.Is(err, store.ErrBadCursor) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	ids := make([]string, len(forms))
	for i, f := range forms {
		ids[i] = f.ID
	}
	if err := c.record(ActionFormList, ids...); err != nil {
		return err
	}
	if forms == nil {
		forms = []domain.Form{}
	}
	for i := range forms {
		forms[i] = c.viewForm(forms[i])
	}
	return c.json(http.StatusOK, list[domain.Form]{Items: forms, Next: next})
}

func getForm(c *call) error {
	f, err := fetch(c, "formID", "form", c.data.Form)
	if err != nil {
		return err
	}
	if err := c.record(ActionFormRead, f.ID); err != nil {
		return err
	}
	return c.json(http.StatusOK, c.viewForm(f))
}

// viewForm masks the notification recipients' addresses for support staff without a grant (M2).
func (c *call) viewForm(f domain.Form) domain.Form {
	if c.d.Masked && len(f.Recipients) > 0 {
		masked := make([]string, len(f.Recipients))
		for i, r := range f.Recipients {
			masked[i] = access.MaskEmail(r)
		}
		f.Recipients = masked
	}
	return f
}

// sameForm compares forms as the API shows them, so that an empty list and a missing one are equal.
func sameForm(a, b domain.Form) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(x, y)
}

// createForm creates a form; sending the same form again answers 200 with it, so a retried create
// succeeds, while a different form under a taken ID is a conflict.
func createForm(c *call) error {
	var f domain.Form
	if p := c.decode(&f); p != nil {
		return p
	}
	if p := c.checkForm(&f); p != nil {
		return p
	}
	existing, err := c.data.Form(c.ctx, f.ID)
	switch {
	case err == nil && sameForm(existing, f):
		if err := c.record(ActionFormRead, f.ID); err != nil {
			return err
		}
		return c.json(http.StatusOK, existing)
	case err == nil:
		return conflict("form-exists", "A form with this ID exists; change it with PUT.")
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := c.record(ActionFormCreate, f.ID, f.CampaignID); err != nil {
		return err
	}
	return c.putForm(f, http.StatusCreated)
}

func updateForm(c *call) error {
	id, ok := c.param("formID")
	if !ok {
		return notFound("No such form.")
	}
	var f domain.Form
	if p := c.decode(&f); p != nil {
		return p
	}
	if f.ID == "" {
		f.ID = id
	}
	if f.ID != id {
		return invalid(problem.FieldError{Field: "id", Code: "mismatch", Message: "The id in the body must match the path."})
	}
	old, err := c.data.Form(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such form.")
	} else if err != nil {
		return err
	}
	if p := c.checkForm(&f); p != nil {
		return p
	}
	if err := c.record(ActionFormUpdate, f.ID, f.CampaignID); err != nil {
		return err
	}
	if err := c.storeForm(f); err != nil {
		return err
	}
	if old.RetentionDays != f.RetentionDays || old.SpamRetentionDays != f.SpamRetentionDays {
		// The new retention applies to the leads already stored from the form, through a job (T3).
		if err := c.data.StartRetentionChange(c.ctx, f); err != nil {
			return err
		}
	}
	return c.json(http.StatusOK, f)
}

func disableForm(c *call) error {
	f, err := fetch(c, "formID", "form", c.data.Form)
	if err != nil {
		return err
	}
	if err := c.record(ActionFormDisable, f.ID); err != nil {
		return err
	}
	if !f.Enabled {
		return c.json(http.StatusOK, f)
	}
	f.Enabled = false
	return c.putForm(f, http.StatusOK)
}

// checkForm completes and validates a form from a request: it belongs to the caller's tenant, is valid,
// and feeds an existing campaign that is not being deleted.
func (c *call) checkForm(f *domain.Form) *problem.Problem {
	if f.TenantID != "" && f.TenantID != c.tenant.ID {
		return invalid(problem.FieldError{Field: "tenantID", Code: "mismatch", Message: "A form belongs to your own tenant; leave tenantID out."})
	}
	f.TenantID = c.tenant.ID
	if err := f.Validate(); err != nil {
		var errs []problem.FieldError
		for _, line := range strings.Split(err.Error(), "\n") {
			errs = append(errs, problem.FieldError{Field: fieldOf(line), Code: "invalid", Message: strings.TrimPrefix(line, domain.ErrInvalidConfig.Error()+": ")})
		}
		return invalid(errs...)
	}
	camp, err := c.data.Campaign(c.ctx, f.CampaignID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return invalid(problem.FieldError{Field: "campaignID", Code: "unknown", Message: "No campaign has this ID; create it first."})
	case err != nil:
		c.h.Log.Error("request failed", "request", c.rid, "tenant", c.tenant.ID, "error", err.Error())
		return httpapi.Internal()
	case camp.Deleting && f.Enabled:
		return problem.New(http.StatusConflict, "campaign-deleting", "Conflict", "The campaign is being deleted; an enabled form cannot feed it.")
	}
	return nil
}

// fieldOf names the field a validation message is about: its first word, as Form.Validate writes them.
func fieldOf(msg string) string {
	msg = strings.TrimPrefix(msg, domain.ErrInvalidConfig.Error()+": ")
	word, _, _ := strings.Cut(msg, " ")
	return strings.TrimSuffix(word, ":")
}

func (c *call) putForm(f domain.Form, status int) error {
	if err := c.storeForm(f); err != nil {
		return err
	}
	return c.json(status, f)
}

// storeForm stores f, or gives the problem to answer.
func (c *call) storeForm(f domain.Form) error {
	err := c.data.PutForm(c.ctx, f)
	if errors.Is(err, store.ErrExists) {
		// Form IDs and inbound aliases are public routes, unique across tenants; say which without
		// saying whose.
		return conflict("form-id-taken", "This form ID or inbound alias is taken; choose another.")
	}
	return err
}

type campaignView struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	CreatedAt   time.Time `json:"createdAt"`
	Deleting    bool      `json:"deleting,omitempty"`
	DeletionJob string    `json:"deletionJob,omitempty"`
}

func viewCampaign(cp domain.Campaign) campaignView {
	return campaignView{ID: cp.ID, Name: cp.Name, CreatedAt: cp.CreatedAt, Deleting: cp.Deleting, DeletionJob: cp.DeletionJob}
}

func listCampaigns(c *call) error {
	limit, cursor, p := c.page()
	if p != nil {
		return p
	}
	camps, next, err := c.data.Campaigns(c.ctx, limit, cursor)
	if errors.Is(err, store.ErrBadCursor) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	items := make([]campaignView, len(camps))
	ids := make([]string, len(camps))
	for i, cp := range camps {
		items[i], ids[i] = viewCampaign(cp), cp.ID
	}
	if err := c.record(ActionCampaignList, ids...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[campaignView]{Items: items, Next: next})
}

func getCampaign(c *call) error {
	cp, err := fetch(c, "campaignID", "campaign", c.data.Campaign)
	if err != nil {
		return err
	}
	if err := c.record(ActionCampaignRead, cp.ID); err != nil {
		return err
	}
	return c.json(http.StatusOK, viewCampaign(cp))
}

type campaignBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func createCampaign(c *call) error {
	var b campaignBody
	if p := c.decode(&b); p != nil {
		return p
	}
	var errs []problem.FieldError
	if !domain.ValidID(b.ID) {
		errs = append(errs, problem.FieldError{Field: "id", Code: "invalid", Message: "2-63 lower-case letters, digits or hyphens."})
	}
	if p := checkName(b.Name); p != nil {
		errs = append(errs, *p)
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	existing, err := c.data.Campaign(c.ctx, b.ID)
	switch {
	case err == nil && existing.Name == b.Name && !existing.Deleting:
		if err := c.record(ActionCampaignRead, b.ID); err != nil {
			return err
		}
		return c.json(http.StatusOK, viewCampaign(existing))
	case err == nil:
		return conflict("campaign-exists", "A campaign with this ID exists.")
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := c.record(ActionCampaignCreate, b.ID); err != nil {
		return err
	}
	cp := domain.Campaign{ID: b.ID, Name: b.Name, CreatedAt: c.h.Now().UTC()}
	if err := c.data.PutCampaign(c.ctx, cp); errors.Is(err, store.ErrExists) {
		return conflict("campaign-exists", "A campaign with this ID exists.")
	} else if err != nil {
		return err
	}
	return c.json(http.StatusCreated, viewCampaign(cp))
}

func checkName(name string) *problem.FieldError {
	n := len([]rune(strings.TrimSpace(name)))
	if n == 0 || n > 200 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &problem.FieldError{Field: "name", Code: "invalid", Message: "1-200 characters, no control characters."}
	}
	return nil
}

func renameCampaign(c *call) error {
	id, ok := c.param("campaignID")
	if !ok {
		return notFound("No such campaign.")
	}
	var b struct {
		Name string `json:"name"`
	}
	if p := c.decode(&b, "application/merge-patch+json"); p != nil {
		return p
	}
	if p := checkName(b.Name); p != nil {
		return invalid(*p)
	}
	if _, err := c.data.Campaign(c.ctx, id); errors.Is(err, store.ErrNotFound) {
		return notFound("No such campaign.")
	} else if err != nil {
		return err
	}
	if err := c.record(ActionCampaignRename, id); err != nil {
		return err
	}
	cp, err := c.data.RenameCampaign(c.ctx, id, b.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("No such campaign.")
	case errors.Is(err, store.ErrDeleting):
		return conflict("campaign-deleting", "The campaign is being deleted.")
	case err != nil:
		return err
	}
	return c.json(http.StatusOK, viewCampaign(cp))
}

type deletionView struct {
	JobID     string    `json:"jobID"`
	Campaign  string    `json:"campaignID"`
	Status    string    `json:"status"` // running or done
	Deleted   int64     `json:"deleted"`
	StartedAt time.Time `json:"startedAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func viewDeletion(d domain.CampaignDeletion) deletionView {
	status := "running"
	if d.Done {
		status = "done"
	}
	return deletionView{JobID: d.JobID, Campaign: d.Campaign, Status: status, Deleted: d.Deleted, StartedAt: d.StartedAt, UpdatedAt: d.UpdatedAt}
}

// deleteCampaign starts the deletion of a campaign with every lead in it and their keys (E8). The work
// is a resumable job (package jobs); the answer is 202 with its ID and where to follow it. Deleting again
// answers the same job.
func deleteCampaign(c *call) error {
	id, ok := c.param("campaignID")
	if !ok {
		return notFound("No such campaign.")
	}
	job, jobErr := c.data.CampaignDeletion(c.ctx, id)
	if jobErr != nil && !errors.Is(jobErr, store.ErrNotFound) {
		return jobErr
	}
	_, err := c.data.Campaign(c.ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	exists := err == nil
	// A running job, or a finished one whose campaign is gone, answers a repeated request; a finished job
	// of an earlier campaign with the same ID does not stop this one's deletion.
	if jobErr == nil && (!job.Done || !exists) {
		if err := c.record(ActionCampaignDelete, id, "job:"+job.JobID); err != nil {
			return err
		}
		return c.accepted(job)
	}
	if !exists {
		return notFound("No such campaign.")
	}
	// New leads must stop arriving before the campaign can be emptied.
	var feeding []string
	for cursor := ""; ; {
		forms, next, err := c.data.Forms(c.ctx, store.MaxPage, cursor)
		if err != nil {
			return err
		}
		for _, f := range forms {
			if f.CampaignID == id && f.Enabled {
				feeding = append(feeding, f.ID)
			}
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(feeding) > 0 {
		return conflict("campaign-in-use", "Enabled forms feed this campaign: "+strings.Join(feeding, ", ")+". Disable them first.")
	}
	jobID := c.h.NewID()
	if err := c.record(ActionCampaignDelete, id, "job:"+jobID); err != nil {
		return err
	}
	job, err = c.data.StartCampaignDeletion(c.ctx, id, jobID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No such campaign.")
	}
	if err != nil {
		return err
	}
	return c.accepted(job)
}

func (c *call) accepted(job domain.CampaignDeletion) error {
	status := http.StatusAccepted
	if job.Done {
		status = http.StatusOK
	}
	c.w.Header().Set("Location", "/v1/campaigns/"+job.Campaign+"/deletion")
	return c.json(status, viewDeletion(job))
}

func getDeletion(c *call) error {
	id, ok := c.param("campaignID")
	if !ok {
		return notFound("No deletion of this campaign.")
	}
	job, err := c.data.CampaignDeletion(c.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("No deletion of this campaign.")
	}
	if err != nil {
		return err
	}
	if err := c.record(ActionCampaignRead, id, "job:"+job.JobID); err != nil {
		return err
	}
	return c.json(http.StatusOK, viewDeletion(job))
}
