package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"

	"leadvault/shared/domain"
	"leadvault/shared/store"
	"leadvault/shared/subproc"
)

// subprocessorUsage documents the sub-processor commands in the CLI's usage.
const subprocessorUsage = `
  subprocessor propose -kind add|replace|remove -name <n> -address <a> -service <s> -data <d> -location <region>
                       -effective <date> [-replaces <name>]
                              announce a change of sub-processors to every tenant's admins (at least one month
                              ahead; objections for 7 days); outside the EU only once every
                              tenant has recorded its instruction (POST /v1/transfer-instructions)
  subprocessor changes        list the announced changes
  subprocessor objections <id>
                              list the tenants' objections to a change`

// subprocessor is `subprocessor propose|changes|objections`.
func subprocessor(ctx context.Context, st *store.Store, trail subproc.Auditor, args []string, out io.Writer) error {
	switch {
	case len(args) >= 2 && args[1] == "propose":
		fs := flag.NewFlagSet("propose", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		kind, name, address := fs.String("kind", "add", ""), fs.String("name", "", ""), fs.String("address", "", "")
		service, data, location := fs.String("service", "", ""), fs.String("data", "", ""), fs.String("location", "", "")
		effective, replaces := fs.String("effective", "", ""), fs.String("replaces", "", "")
		if err := fs.Parse(args[2:]); err != nil || fs.NArg() != 0 || *name == "" || *service == "" || *location == "" || *effective == "" {
			return errUsage
		}
		if *kind != "add" && *kind != "replace" && *kind != "remove" {
			return fmt.Errorf("-kind must be add, replace or remove")
		}
		at, err := parseWhen(*effective)
		if err != nil {
			return fmt.Errorf("-effective: %w", err)
		}
		operator := "operator"
		if u := os.Getenv("USER"); u != "" {
			operator = "operator:" + u
		}
		c, told, err := subproc.Propose(ctx, st, trail, domain.SubprocessorChange{ID: uuid.Must(uuid.NewV7()).String(), Kind: *kind,
			Name: *name, Address: *address, Service: *service, Data: *data, Location: *location, Replaces: *replaces,
			EffectiveAt: at, ProposedAt: time.Now().UTC()}, operator)
		if c.ObjectionDeadline.IsZero() {
			return err
		}
		fmt.Fprintf(out, "change %s announced to %d tenants; effective %s; objections until %s\n", c.ID, told,
			c.EffectiveAt.Format(time.DateOnly), c.ObjectionDeadline.Format(time.RFC3339))
		return err
	case len(args) == 2 && args[1] == "changes":
		changes, err := st.SubprocessorChanges(ctx)
		if err != nil {
			return err
		}
		for _, c := range changes {
			fmt.Fprintf(out, "%s  %-7s %s (%s), effective %s, objections until %s\n", c.ID, c.Kind, c.Name, c.Location,
				c.EffectiveAt.Format(time.DateOnly), c.ObjectionDeadline.Format(time.RFC3339))
		}
		return nil
	case len(args) == 3 && args[1] == "objections":
		objs, err := st.Objections(ctx, args[2])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%d objection(s) to %s\n", len(objs), args[2])
		for _, o := range objs {
			fmt.Fprintf(out, "  %s  %s by %s: %s\n", o.At.Format(time.RFC3339), o.Tenant, o.By, o.Reason)
		}
		return nil
	}
	return errUsage
}
