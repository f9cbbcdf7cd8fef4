package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"leadvault/shared/domain"
	"leadvault/shared/incident"
	"leadvault/shared/store"
)

// incidentUsage documents the incident commands in the CLI's usage.
const incidentUsage = `
  incident open -discovered <time> -nature "..." [-tenant <id>[,<id>]] [-from <time> -to <time>] [-actors <user>[,<user>]]
                              open a breach incident: its scope is computed, and every affected tenant's admins get
                              the initial notice at once (Art. 33(3) content, drafts for their own notices)
  incident notice <id> -detailed|-update -consequences "..." -measures "..."
                              send the detailed notice (due 36 h after discovery) or an update; appended, never overwritten
  incident close <id>         close it
  incident list               the incidents, and every notice due within 2 hours or late`

// incidents is `incident open|notice|close|list`.
func incidents(ctx context.Context, st *store.Store, trail incident.Auditor, args []string, out io.Writer) error {
	operator := "operator"
	if u := os.Getenv("USER"); u != "" {
		operator = "operator:" + u
	}
	svc := incident.New(st, trail, operator)
	now := time.Now().UTC()
	if len(args) < 2 {
		return errUsage
	}
	fs := flag.NewFlagSet("incident", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch args[1] {
	case "open":
		discovered, nature := fs.String("discovered", "", ""), fs.String("nature", "", "")
		tenants, actors := fs.String("tenant", "", ""), fs.String("actors", "", "")
		from, to := fs.String("from", "", ""), fs.String("to", "", "")
		if err := fs.Parse(args[2:]); err != nil || fs.NArg() != 0 || *discovered == "" || strings.TrimSpace(*nature) == "" {
			return errUsage
		}
		o := incident.Opening{ID: uuid.Must(uuid.NewV7()).String(), Nature: strings.TrimSpace(*nature), Tenants: split(*tenants), Actors: split(*actors)}
		var err error
		if o.Discovered, err = parseWhen(*discovered); err != nil {
			return fmt.Errorf("-discovered: %w", err)
		}
		for _, p := range []struct {
			flag string
			to   *time.Time
		}{{*from, &o.From}, {*to, &o.To}} {
			if p.flag != "" {
				if *p.to, err = parseWhen(p.flag); err != nil {
					return err
				}
			}
		}
		in, scopes, err := svc.Open(ctx, o, now)
		fmt.Fprintf(out, "incident %s opened: %d tenant(s) affected; initial notices sent\n", in.ID, len(in.Tenants))
		for _, t := range in.Tenants {
			sc := scopes[t]
			fmt.Fprintf(out, "  %s: about %d subjects, %d leads, %d notification records; forms %s; access %v\n", t, sc.Subjects, sc.Leads,
				sc.Notifications, strings.Join(sc.Forms, ","), sc.Access)
		}
		return err
	case "notice":
		if len(args) < 3 {
			return errUsage
		}
		detailed, update := fs.Bool("detailed", false, ""), fs.Bool("update", false, "")
		consequences, measures := fs.String("consequences", "", ""), fs.String("measures", "", "")
		if err := fs.Parse(args[3:]); err != nil || fs.NArg() != 0 || *detailed == *update || *consequences == "" || *measures == "" {
			return errUsage
		}
		kind := map[bool]string{true: domain.NoticeDetailed, false: domain.NoticeUpdate}[*detailed]
		if err := svc.Notice(ctx, args[2], kind, *consequences, *measures, now); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s notice of %s sent\n", kind, args[2])
		return nil
	case "close":
		if len(args) != 3 {
			return errUsage
		}
		if err := svc.Close(ctx, args[2], now); err != nil {
			return err
		}
		fmt.Fprintf(out, "incident %s closed\n", args[2])
		return nil
	case "list":
		all, err := st.Incidents(ctx)
		if err != nil {
			return err
		}
		for _, in := range all {
			fmt.Fprintf(out, "%s  %-6s discovered %s  tenants %s  %s\n", in.ID, in.State, in.Discovered.Format(time.RFC3339), strings.Join(in.Tenants, ","), in.Nature)
		}
		due, err := svc.Deadlines(ctx, now)
		if err != nil {
			return err
		}
		for _, d := range due {
			state := "due " + d.DueAt.Format(time.RFC3339)
			if d.Late {
				state = "LATE since " + d.DueAt.Format(time.RFC3339)
			}
			fmt.Fprintf(out, "  %s notice of %s to %s: %s\n", d.Kind, d.Incident, d.Tenant, state)
		}
		return nil
	}
	return errUsage
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
