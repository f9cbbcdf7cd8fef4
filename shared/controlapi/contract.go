package controlapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/problem"
	"leadvault/shared/store"
)

// contractView is the tenant's contract as GET /v1/contract shows it.
type contractView struct {
	State string `json:"state"`
	// EndsAt, GraceDays, PurgeAt and Then are set once the operators have set the end.
	EndsAt    *time.Time `json:"endsAt,omitempty"`
	GraceDays int        `json:"graceDays,omitempty"`
	PurgeAt   *time.Time `json:"purgeAt,omitempty"`
	Then      string     `json:"then,omitempty"`
	// ReadOnly is true from the end: forms take nothing, and only reads, exports and deletions are allowed.
	ReadOnly bool `json:"readOnly"`
	// ClosingWithCampaigns says what POST /v1/contract/close does while campaigns remain: it is refused
	// unless the request asks for them to be deleted with the account, on record (E8b).
	ClosingWithCampaigns string `json:"closingWithCampaigns"`
	Campaigns            int    `json:"campaigns"`
	// ReturnArchive is set once the archive of a tenant that chose "return" is written.
	ReturnArchive *returnArchiveView `json:"returnArchive,omitempty"`
}

type returnArchiveView struct {
	Formats   []string  `json:"formats"`
	Download  string    `json:"download"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// getContract shows the tenant's contract: its state, its end and grace period, and its return archive.
func getContract(c *call) error {
	now := c.h.Now()
	t, err := c.h.Store.Tenant(c.ctx, c.tenant.ID) // fresh: the cached record may predate the end
	if err != nil {
		return err
	}
	k := t.Contract
	v := contractView{State: k.State(now), ReadOnly: k.State(now) != domain.ContractActive,
		ClosingWithCampaigns: "refused unless deleteCampaigns is true; then deleted with the account, on record"}
	if !k.EndsAt.IsZero() {
		ends, purge := k.EndsAt.UTC(), k.PurgeAt.UTC()
		v.EndsAt, v.PurgeAt, v.GraceDays, v.Then = &ends, &purge, k.GraceDays, k.Then
	}
	if k.ReturnArchive != "" {
		v.ReturnArchive = &returnArchiveView{Formats: []string{"json", "csv"}, Download: "/v1/contract/return?format=json", ExpiresAt: k.PurgeAt.UTC()}
	}
	campaigns, _, err := c.data.Campaigns(c.ctx, store.MaxPage, "")
	if err != nil {
		return err
	}
	v.Campaigns = len(campaigns)
	if err := c.record(ActionContractRead, "state:"+v.State); err != nil {
		return err
	}
	return c.json(http.StatusOK, v)
}

type closeRequest struct {
	// DeleteCampaigns lets the closure delete the campaigns that remain, on record (E8b).
	DeleteCampaigns bool `json:"deleteCampaigns"`
}

type closeView struct {
	State            string    `json:"state"`
	PurgeAt          time.Time `json:"purgeAt"`
	CampaignsDeleted []string  `json:"campaignsDeleted"`
}

// closeContract brings the purge of an ended contract forward to now: an admin closes the account before
// the grace period is over. While campaigns remain it is refused (409 campaigns-remain) unless the request
// says deleteCampaigns; then the purge deletes them, and the audit record names them.
func closeContract(c *call) error {
	var req closeRequest
	if p := c.decode(&req); p != nil {
		return p
	}
	t, err := c.h.Store.Tenant(c.ctx, c.tenant.ID)
	if err != nil {
		return err
	}
	if t.Contract.State(c.h.Now()) != domain.ContractEnded {
		return conflict("contract-active", "The contract has not ended; the account can be closed during the grace period after its end.")
	}
	var campaigns []string
	for cursor := ""; ; {
		page, next, err := c.data.Campaigns(c.ctx, store.MaxPage, cursor)
		if err != nil {
			return err
		}
		for _, k := range page {
			campaigns = append(campaigns, k.ID)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(campaigns) > 0 && !req.DeleteCampaigns {
		return conflict("campaigns-remain", strconv.Itoa(len(campaigns))+" campaign(s) remain: "+strings.Join(campaigns, ", ")+
			". Delete them first (DELETE /v1/campaigns/{id}), or close with {\"deleteCampaigns\": true} to delete them with the account, on record.")
	}
	targets := []string{"deleteCampaigns:" + strconv.FormatBool(req.DeleteCampaigns)}
	for _, id := range campaigns {
		targets = append(targets, "campaign:"+id)
	}
	if err := c.record(ActionContractClose, targets...); err != nil {
		return err
	}
	if campaigns, err = c.data.CloseContract(c.ctx, req.DeleteCampaigns); err != nil {
		if errors.Is(err, store.ErrCampaignsRemain) {
			return conflict("campaigns-remain", "A campaign was created meanwhile; list the campaigns and try again.")
		}
		return err
	}
	if campaigns == nil {
		campaigns = []string{}
	}
	return c.json(http.StatusAccepted, closeView{State: domain.ContractEnded, PurgeAt: c.h.Now().UTC(), CampaignsDeleted: campaigns})
}

// downloadReturnArchive hands an admin the tenant's return archive through a 15-minute link.
func downloadReturnArchive(c *call) error {
	t, err := c.h.Store.Tenant(c.ctx, c.tenant.ID)
	if err != nil {
		return err
	}
	format := c.r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		return badQuery("format", "format must be json or csv.")
	}
	switch {
	case t.Contract.Then != domain.ContractThenReturn:
		return notFound("The tenant's data is not returned: its contract ends with deletion, or has no end.")
	case t.Contract.ReturnArchive == "":
		return problem.New(http.StatusConflict, "not-ready", "Not Ready",
			"The return archive is written when the contract ends (within 30 minutes of its end).")
	}
	if err := c.record(ActionContractReturn, "format:"+format); err != nil {
		return err
	}
	return c.download(t.Contract.ReturnArchive+"."+format, "leadvault-"+t.ID+"-return."+format)
}

// readOnlyRefusal is the answer to a change while the contract has ended: only reads, exports and
// deletions remain.
func readOnlyRefusal(t domain.Tenant) *problem.Problem {
	return problem.New(http.StatusConflict, "contract-ended", "Read-Only",
		"The contract ended on "+t.Contract.EndsAt.UTC().Format(time.DateOnly)+": until "+t.Contract.PurgeAt.UTC().Format(time.DateOnly)+
			" the account can be read, exported and deleted from, but not changed.")
}

type billingView struct {
	Contact   *billingContactView `json:"contact,omitempty"`
	Invoices  []invoiceView       `json:"invoices"`
	KeptUntil *time.Time          `json:"keptUntil,omitempty"`
	Hold      string              `json:"hold"`
}

type billingContactView struct {
	Name      string `json:"name"`
	Email     string `json:"email"`
	Address   string `json:"address,omitempty"`
	VATNumber string `json:"vatNumber,omitempty"`
}

type invoiceView struct {
	Number    string    `json:"number"`
	IssuedOn  string    `json:"issuedOn"`
	Period    string    `json:"period,omitempty"`
	KeptUntil time.Time `json:"keptUntil"`
}

// billingHold explains why the billing records cannot be deleted through the API.
const billingHold = "Kept for bookkeeping until five years after the end of the year of the last invoice; " +
	"not deletable by the controller, and kept when the contract ends (C3)."

// getBilling shows the tenant's billing records. There is no route to change or delete them: the
// processor's operators keep them, under bookkeeping law.
func getBilling(c *call) error {
	b, err := c.data.Billing(c.ctx)
	if err != nil {
		return err
	}
	v := billingView{Invoices: []invoiceView{}, Hold: billingHold}
	if b.Contact != nil {
		v.Contact = &billingContactView{Name: b.Contact.Name, Email: b.Contact.Email, Address: b.Contact.Address, VATNumber: b.Contact.VATNumber}
		kept := b.KeptUntil.UTC()
		v.KeptUntil = &kept
	}
	for _, inv := range b.Invoices {
		v.Invoices = append(v.Invoices, invoiceView{Number: inv.Number, IssuedOn: inv.IssuedOn.Format(time.DateOnly), Period: inv.Period,
			KeptUntil: inv.KeptUntil.UTC()})
	}
	if err := c.record(ActionBillingRead); err != nil {
		return err
	}
	return c.json(http.StatusOK, v)
}
