package controlapi

import (
	"net/http"
	"time"

	"leadvault/shared/domain"
)

type incidentView struct {
	ID            string               `json:"id"`
	Nature        string               `json:"nature"`
	State         string               `json:"state"`
	DiscoveredAt  time.Time            `json:"discoveredAt"`
	From          time.Time            `json:"from"`
	To            time.Time            `json:"to"`
	InitialDueAt  time.Time            `json:"initialNoticeDueAt"`
	DetailedDueAt time.Time            `json:"detailedNoticeDueAt"`
	Scope         incidentScopeView    `json:"scope"`
	Notices       []incidentNoticeView `json:"notices"`
	ClosedAt      *time.Time           `json:"closedAt,omitempty"`
}

type incidentScopeView struct {
	Forms                 []string       `json:"forms"`
	Campaigns             []string       `json:"campaigns"`
	CategoriesOfData      []string       `json:"categoriesOfData"`
	ApproxDataSubjects    int            `json:"approxDataSubjects"`
	ApproxLeads           int            `json:"approxLeads"`
	ApproxNotifications   int            `json:"approxNotificationRecords"`
	AccessByActorsInScope map[string]int `json:"accessByActors,omitempty"`
}

type incidentNoticeView struct {
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

func viewIncident(in domain.Incident) incidentView {
	v := incidentView{ID: in.ID, Nature: in.Nature, State: in.State, DiscoveredAt: in.Discovered.UTC(), From: in.From.UTC(), To: in.To.UTC(),
		InitialDueAt: in.Discovered.Add(domain.InitialNoticeDue).UTC(), DetailedDueAt: in.Discovered.Add(domain.DetailedNoticeDue).UTC(),
		Scope: incidentScopeView{Forms: nonNil(in.Scope.Forms), Campaigns: nonNil(in.Scope.Campaigns), CategoriesOfData: nonNil(in.Scope.Categories),
			ApproxDataSubjects: in.Scope.Subjects, ApproxLeads: in.Scope.Leads, ApproxNotifications: in.Scope.Notifications,
			AccessByActorsInScope: in.Scope.Access},
		Notices: []incidentNoticeView{}}
	for _, n := range in.Notices {
		v.Notices = append(v.Notices, incidentNoticeView{Kind: n.Kind, At: n.At.UTC(), Text: n.Text})
	}
	if !in.ClosedAt.IsZero() {
		c := in.ClosedAt.UTC()
		v.ClosedAt = &c
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// listIncidents shows the breach incidents that concern the tenant, newest first, with their notices.
func listIncidents(c *call) error {
	all, err := c.data.Incidents(c.ctx)
	if err != nil {
		return err
	}
	items := make([]incidentView, 0, len(all))
	targets := make([]string, 0, len(all))
	for _, in := range all {
		items = append(items, viewIncident(in))
		targets = append(targets, "incident:"+in.ID)
	}
	if err := c.record(ActionIncidentList, targets...); err != nil {
		return err
	}
	return c.json(http.StatusOK, list[incidentView]{Items: items})
}

// getIncident shows one incident with its scope in the tenant, every notice, and the drafts for the
// controller's own notices (in each notice's text).
func getIncident(c *call) error {
	in, err := fetch(c, "incidentID", "incident", c.data.Incident)
	if err != nil {
		return err
	}
	if err := c.record(ActionIncidentRead, "incident:"+in.ID); err != nil {
		return err
	}
	return c.json(http.StatusOK, viewIncident(in))
}
