package export

import (
	"encoding/json"
	"fmt"
	"time"

	"leadvault/shared/audit"
	"leadvault/shared/domain"
)

// TenantFormat names the version of a tenant's return archive.
const TenantFormat = "leadvault.tenant-export/1"

// TenantDocument is everything a tenant holds, returned when its contract ends (Art. 28(3)(g), S10): every
// lead of every campaign in the same shape as a subject export, its forms, campaigns and users, and its
// audit trail. Its CSV is the subject export's table, one row per lead.
type TenantDocument struct {
	Format      string          `json:"format"`
	GeneratedAt time.Time       `json:"generatedAt"`
	Tenant      TenantInfo      `json:"tenant"`
	Processing  Processing      `json:"processing"`
	Forms       []domain.Form   `json:"forms"`
	Campaigns   []Campaign      `json:"campaigns"`
	Users       []User          `json:"users"`
	Leads       []Lead          `json:"leads"`
	AuditTrail  []audit.Record  `json:"auditTrail"`
	Counts      map[string]int  `json:"counts"`
	Contract    ContractSummary `json:"contract"`
}

// TenantInfo names the controller.
type TenantInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// Campaign is one campaign.
type Campaign struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

// User is one of the tenant's users.
type User struct {
	ID      string    `json:"id"`
	Email   string    `json:"email"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"addedAt"`
}

// ContractSummary says why the archive exists and until when the tenant's data is kept.
type ContractSummary struct {
	EndsAt  time.Time `json:"endsAt"`
	PurgeAt time.Time `json:"purgeAt"`
}

// TenantInput is what a tenant's archive is built from.
type TenantInput struct {
	Tenant                     domain.Tenant
	Processor, StorageLocation string
	Forms                      []domain.Form
	Campaigns                  []domain.Campaign
	Members                    []domain.Member
	Leads                      []domain.Lead
	Notified                   map[string]domain.Notification
	Audit                      []audit.Record
	Now                        time.Time
}

// BuildTenant assembles a tenant's archive; the leads are converted exactly as for a subject export.
func BuildTenant(in TenantInput) TenantDocument {
	forms := map[string]domain.Form{}
	for _, f := range in.Forms {
		forms[f.ID] = f
	}
	leads := Build(Input{Controller: in.Tenant.Name, Processor: in.Processor, StorageLocation: in.StorageLocation,
		Forms: forms, Leads: in.Leads, Notified: in.Notified, Now: in.Now})
	d := TenantDocument{Format: TenantFormat, GeneratedAt: in.Now.UTC(),
		Tenant:     TenantInfo{ID: in.Tenant.ID, Name: in.Tenant.Name, CreatedAt: in.Tenant.CreatedAt.UTC()},
		Processing: leads.Processing, Forms: in.Forms, Campaigns: []Campaign{}, Users: []User{}, Leads: leads.Leads,
		AuditTrail: in.Audit, Contract: ContractSummary{EndsAt: in.Tenant.Contract.EndsAt.UTC(), PurgeAt: in.Tenant.Contract.PurgeAt.UTC()}}
	if d.Forms == nil {
		d.Forms = []domain.Form{}
	}
	if d.AuditTrail == nil {
		d.AuditTrail = []audit.Record{}
	}
	for _, c := range in.Campaigns {
		d.Campaigns = append(d.Campaigns, Campaign{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt.UTC()})
	}
	for _, m := range in.Members {
		d.Users = append(d.Users, User{ID: m.UserID, Email: m.Email, Role: string(m.Role), AddedAt: m.AddedAt.UTC()})
	}
	d.Counts = map[string]int{"forms": len(d.Forms), "campaigns": len(d.Campaigns), "users": len(d.Users),
		"leads": len(d.Leads), "auditRecords": len(d.AuditTrail)}
	return d
}

// JSON is the archive as indented JSON.
func (d TenantDocument) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode tenant export: %w", err)
	}
	return append(b, '\n'), nil
}

// CSV is the archive's leads as the subject export's table.
func (d TenantDocument) CSV() ([]byte, error) {
	return Document{Leads: d.Leads}.CSV()
}
