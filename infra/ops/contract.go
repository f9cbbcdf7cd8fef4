package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/posture"
	"leadvault/shared/record"
	"leadvault/shared/store"
)

// contractUsage documents the contract commands in the CLI's usage.
const contractUsage = `
  tenant end <id> -on <date|time> [-grace <days>] -then delete|return
                              end the tenant's contract: read-only from then for the grace period (30-90
                              days, default 30), its data returned first if -then return, then purged
  tenant status <id>          the tenant's contract: state, end, purge; or its final record once purged
  billing contact <id> -name <name> -email <e-mail> [-address <text>] [-vat <number>]
                              set the billing contact kept for bookkeeping (5 years; the controller cannot delete it)
  billing invoice <id> <number> -issued <date> [-period <text>]
                              record an invoice's reference
  migrate expiry-hours        give leads and subject keys stored before the retention sweep existed their
                              expiry hour, so the sweep deletes them on time (once per deployment; idempotent)
  processor wind-up -confirm <yes> [-grace <days>] [-on <date|time>]
                              the processor stops (S5): end every tenant's contract with its data returned,
                              then purged after the grace period (see docs/runbook.md)`

// parseWhen reads a date (midnight UTC) or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2027-01-31) nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// endContract is `tenant end`.
func endContract(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
	if len(args) < 3 {
		return errUsage
	}
	fs := flag.NewFlagSet("end", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	on := fs.String("on", "", "")
	grace := fs.Int("grace", domain.DefaultGraceDays, "")
	then := fs.String("then", "", "")
	if err := fs.Parse(args[3:]); err != nil || fs.NArg() != 0 || *on == "" || *then == "" {
		return errUsage
	}
	ends, err := parseWhen(*on)
	if err != nil {
		return fmt.Errorf("-on: %w", err)
	}
	if *grace < domain.MinGraceDays || *grace > domain.MaxGraceDays {
		return fmt.Errorf("-grace must be %d-%d days (the longest any agreement allows is %d)", domain.MinGraceDays, domain.MaxGraceDays, domain.MaxGraceDays)
	}
	if *then != domain.ContractThenDelete && *then != domain.ContractThenReturn {
		return errors.New("-then must be delete or return")
	}
	c := domain.Contract{EndsAt: ends, GraceDays: *grace, Then: *then}
	if err := st.Scoped(args[2]).EndContract(ctx, c); err != nil {
		if errors.Is(err, store.ErrContractEnded) {
			return fmt.Errorf("the end of %s was already carried out; it can no longer move", args[2])
		}
		return err
	}
	fmt.Fprintf(out, "tenant %s: read-only from %s, %s, purged from %s\n", args[2], ends.Format(time.RFC3339),
		map[string]string{"delete": "then deleted", "return": "its data returned"}[*then], ends.AddDate(0, 0, *grace).Format(time.RFC3339))
	return nil
}

// contractStatus is `tenant status`.
func contractStatus(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
	if len(args) != 3 {
		return errUsage
	}
	t, err := st.Tenant(ctx, args[2])
	if errors.Is(err, store.ErrNotFound) {
		p, perr := st.Purged(ctx, args[2])
		if perr != nil {
			return err
		}
		fmt.Fprintf(out, "tenant %s: purged %s (contract ended %s, %s)\n", p.Tenant, p.PurgedAt.Format(time.RFC3339), p.EndsAt.Format(time.RFC3339), p.Then)
		for _, k := range slices.Sorted(maps.Keys(p.Counts)) {
			fmt.Fprintf(out, "  %-22s %d\n", k, p.Counts[k])
		}
		return nil
	}
	if err != nil {
		return err
	}
	k := t.Contract
	fmt.Fprintf(out, "tenant %s: %s\n", t.ID, k.State(time.Now()))
	if !k.EndsAt.IsZero() {
		fmt.Fprintf(out, "  ends     %s\n  grace    %d days\n  then     %s\n  purge    %s\n", k.EndsAt.Format(time.RFC3339), k.GraceDays, k.Then, k.PurgeAt.Format(time.RFC3339))
	}
	if !k.EndedAt.IsZero() {
		fmt.Fprintf(out, "  carried out %s\n", k.EndedAt.Format(time.RFC3339))
	}
	if k.ReturnArchive != "" {
		fmt.Fprintf(out, "  archive  %s.{json,csv}\n", k.ReturnArchive)
	}
	return nil
}

// billing is `billing contact` and `billing invoice`.
func billing(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
	if len(args) < 3 {
		return errUsage
	}
	tenant := args[2]
	if _, err := st.Tenant(ctx, tenant); err != nil {
		return err
	}
	v := st.Scoped(tenant)
	fs := flag.NewFlagSet("billing", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch args[1] {
	case "contact":
		name, email := fs.String("name", "", ""), fs.String("email", "", "")
		address, vat := fs.String("address", "", ""), fs.String("vat", "", "")
		if err := fs.Parse(args[3:]); err != nil || fs.NArg() != 0 || *name == "" || !strings.Contains(*email, "@") {
			return errUsage
		}
		if err := v.PutBillingContact(ctx, domain.BillingContact{Name: *name, Email: *email, Address: *address, VATNumber: *vat}); err != nil {
			return err
		}
		fmt.Fprintf(out, "billing contact of %s set\n", tenant)
		return nil
	case "invoice":
		if len(args) < 4 {
			return errUsage
		}
		issued, period := fs.String("issued", "", ""), fs.String("period", "", "")
		if err := fs.Parse(args[4:]); err != nil || fs.NArg() != 0 || *issued == "" {
			return errUsage
		}
		at, err := parseWhen(*issued)
		if err != nil {
			return fmt.Errorf("-issued: %w", err)
		}
		if err := v.AddInvoice(ctx, domain.InvoiceRef{Number: args[3], IssuedOn: at, Period: *period}); err != nil {
			return err
		}
		fmt.Fprintf(out, "invoice %s of %s recorded\n", args[3], tenant)
		return nil
	}
	return errUsage
}

// windUp is `processor wind-up` (S5): every tenant's contract ends with its data returned; the jobs
// function writes each archive and mails each tenant's admins within 30 minutes, and purges each tenant
// after the grace period. Tenants whose end was already carried out keep it.
func windUp(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("wind-up", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	confirm := fs.String("confirm", "", "")
	grace := fs.Int("grace", domain.MinGraceDays, "")
	on := fs.String("on", "", "")
	if err := fs.Parse(args[2:]); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	if *confirm != "yes" {
		return errors.New("this ends every tenant's contract: pass -confirm yes")
	}
	ends := time.Now().UTC().Truncate(time.Second)
	if *on != "" {
		var err error
		if ends, err = parseWhen(*on); err != nil {
			return fmt.Errorf("-on: %w", err)
		}
	}
	tenants, err := st.TenantIDs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	ended := 0
	for _, id := range tenants {
		err := st.Scoped(id).EndContract(ctx, domain.Contract{EndsAt: ends, GraceDays: *grace, Then: domain.ContractThenReturn})
		switch {
		case errors.Is(err, store.ErrContractEnded):
			fmt.Fprintf(out, "tenant %s: its end was already carried out; kept\n", id)
		case err != nil:
			errs = append(errs, fmt.Errorf("tenant %s: %w", id, err))
		default:
			ended++
			fmt.Fprintf(out, "tenant %s: ends %s, data returned, purged %s\n", id, ends.Format(time.RFC3339), ends.AddDate(0, 0, *grace).Format(time.RFC3339))
		}
	}
	fmt.Fprintf(out, "%d of %d tenants ended; the jobs function writes their archives and mails their admins within 30 minutes\n", ended, len(tenants))
	return errors.Join(errs...)
}

// processingRecord is `record <tenant>`: the tenant's record of processing activities, as
// GET /v1/records/processing writes it.
func processingRecord(ctx context.Context, st *store.Store, args []string, out io.Writer) error {
	if len(args) != 2 {
		return errUsage
	}
	t, err := st.Tenant(ctx, args[1])
	if err != nil {
		return err
	}
	v := st.Scoped(t.ID)
	forms, err := v.AllForms(ctx)
	if err != nil {
		return err
	}
	contact := ""
	if b, err := v.Billing(ctx); err != nil {
		return err
	} else if b.Contact != nil {
		contact = b.Contact.Email
	}
	_, err = io.WriteString(out, record.Build(t, forms, contact, posture.DefaultInboundRegion, time.Now()).Markdown())
	return err
}
