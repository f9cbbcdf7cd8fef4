package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"leadvault/infra/local/awsrouter"
	"leadvault/infra/local/stack"
	"leadvault/shared/domain"
	"leadvault/shared/store"
)

// reliabilityN is the number of submissions of the intake reliability test: small by default, larger
// with LEADVAULT_RELIABILITY_N for the figures of docs/reliability.md.
func reliabilityN(t *testing.T, def int) int {
	t.Helper()
	if v := os.Getenv("LEADVAULT_RELIABILITY_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LEADVAULT_RELIABILITY_N=%q is not a positive integer", v)
		}
		return n
	}
	return def
}

// withFaults switches the router's faults on for the rest of the test.
func withFaults(t *testing.T, spec string) *awsrouter.Faults {
	t.Helper()
	f := local.Standins.Faults
	f.SetHold(300 * time.Millisecond)
	if err := f.SetSpec(spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Clear)
	return f
}

// relForm stores a form of the demo tenant in its own campaign, with rate limits out of the way.
func relForm(t *testing.T, id, alias string) domain.Form {
	t.Helper()
	ctx := context.Background()
	f := domain.Form{
		ID: id, TenantID: stack.DemoTenant, CampaignID: id, Enabled: true,
		Fields:     map[string]string{"name": domain.FieldName, "email": domain.FieldEmail, "message": domain.FieldMessage},
		Required:   []string{domain.FieldName, domain.FieldEmail},
		Recipients: []string{"sales@demo.localhost"}, FreeTextPolicy: domain.PolicyRedact, RetentionDays: 30,
		RateLimits:   domain.RateLimits{PerIPPerMinute: 1_000_000, PerFormPerMinute: 1_000_000},
		InboundAlias: alias,
	}
	err := local.Store.Scoped(stack.DemoTenant).PutCampaign(ctx, domain.Campaign{ID: id, Name: id, CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	if err := local.Store.Scoped(f.TenantID).PutForm(ctx, f); err != nil {
		t.Fatal(err)
	}
	return f
}

// campaignLeads lists every stored lead of a campaign of the demo tenant, with faults off.
func campaignLeads(t *testing.T, campaign string) []domain.Lead {
	t.Helper()
	tk := demoKey(t)
	var all []domain.Lead
	cursor := ""
	for {
		leads, next, err := local.Store.Scoped(tk.Tenant()).LeadsByCampaign(context.Background(), tk, campaign, store.Page{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatalf("list leads of %s: %v", campaign, err)
		}
		all = append(all, leads...)
		if next == "" {
			return all
		}
		cursor = next
	}
}

// faultFigures sums the router's counts.
func faultFigures(f *awsrouter.Faults) (matched, injected int64, per []string) {
	for _, c := range f.Counts() {
		matched += c.Matched
		injected += c.Injected
		per = append(per, fmt.Sprintf("%s=%d/%d", c.Rule, c.Injected, c.Matched))
	}
	return matched, injected, per
}

// intakeFaults injects throttling, server errors, lost answers, dropped connections and timeouts into
// everything intake calls: DynamoDB (form, tenant, rate-limit counters, the lead's transaction) and KMS.
const intakeFaults = "dynamodb:*:throttle:0.15,dynamodb:*:5xx:0.08,dynamodb:TransactWriteItems:5xx@after:0.2," +
	"dynamodb:*:drop@after:0.05,dynamodb:*:timeout:0.003,kms:*:throttle:0.05,kms:*:5xx:0.03,kms:*:drop:0.02"

// TestReliability_intake sends submissions with Idempotency-Keys while DynamoDB and KMS fail, retrying
// each 503 with the same key like a client should. No answer may be a 500, every 503 must say
// Retry-After, and every accepted submission must be stored exactly once.
func TestReliability_intake(t *testing.T) {
	n := reliabilityN(t, 300)
	const workers, maxTries = 8, 60
	form := relForm(t, fmt.Sprintf("rel-intake-%d", time.Now().UnixNano()), "")
	faults := withFaults(t, intakeFaults+";seed=11")

	var (
		sent, unavailable, noRetryAfter atomic.Int64
		mu                              sync.Mutex
		accepted                        = map[string]string{} // key -> lead id
		wrong                           []string
	)
	client := &http.Client{Timeout: 30 * time.Second}
	submit := func(i int) {
		key := fmt.Sprintf("%s-%d", form.ID, i)
		body, _ := json.Marshal(map[string]string{"name": "Rel " + strconv.Itoa(i), "email": fmt.Sprintf("rel%d@example.dk", i), "message": key})
		for try := 1; try <= maxTries; try++ {
			req, _ := http.NewRequest(http.MethodPost, local.GatewayURL+"/v1/forms/"+form.ID+"/submissions", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			sent.Add(1)
			resp, err := client.Do(req)
			if err != nil {
				mu.Lock()
				wrong = append(wrong, fmt.Sprintf("%s: %v", key, err))
				mu.Unlock()
				return
			}
			var out struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusCreated:
				mu.Lock()
				if prev, ok := accepted[key]; ok && prev != out.ID {
					wrong = append(wrong, fmt.Sprintf("%s: accepted as %s and as %s", key, prev, out.ID))
				}
				accepted[key] = out.ID
				mu.Unlock()
				return
			case http.StatusServiceUnavailable:
				unavailable.Add(1)
				if resp.Header.Get("Retry-After") == "" {
					noRetryAfter.Add(1)
				}
				// A real client waits Retry-After; the test only yields, to stay short.
				time.Sleep(10 * time.Millisecond)
			default:
				mu.Lock()
				wrong = append(wrong, fmt.Sprintf("%s: answered %d", key, resp.StatusCode))
				mu.Unlock()
				return
			}
		}
		mu.Lock()
		wrong = append(wrong, fmt.Sprintf("%s: still 503 after %d tries", key, maxTries))
		mu.Unlock()
	}
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				submit(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	matched, injected, per := faultFigures(faults)
	faults.Clear()

	for _, w := range wrong {
		t.Error(w)
	}
	if noRetryAfter.Load() != 0 {
		t.Errorf("%d answers 503 without Retry-After", noRetryAfter.Load())
	}
	stored := map[string]int{}
	byKey := map[string]int{}
	for _, l := range campaignLeads(t, form.CampaignID) {
		stored[l.ID]++
		byKey[l.Personal.Message]++
	}
	var lost, duplicates int
	for key, id := range accepted {
		if stored[id] == 0 {
			lost++
			t.Errorf("submission %s was accepted as %s but is not stored", key, id)
		}
	}
	for key, c := range byKey {
		if c > 1 {
			duplicates += c - 1
			t.Errorf("submission %s is stored %d times", key, c)
		}
	}
	storedN := 0
	for _, c := range stored {
		storedN += c
	}
	if len(accepted) != n || storedN != n {
		t.Errorf("accepted %d, stored %d; want %d each", len(accepted), storedN, n)
	}
	t.Logf("reliability intake: submissions %d, requests sent %d, 503 answers %d (all with Retry-After: %t), "+
		"rule matches %d, faults injected %d, accepted %d, stored %d, duplicates %d, lost %d, in %v",
		n, sent.Load(), unavailable.Load(), noRetryAfter.Load() == 0, matched, injected, len(accepted), storedN, duplicates, lost, elapsed.Round(time.Millisecond))
	t.Logf("faults per rule (injected/matched): %s", strings.Join(per, " "))
	if injected == 0 {
		t.Error("no fault was injected; the test proves nothing")
	}

	// Every accepted lead reaches its recipients (or the notifier's on-failure destination); this also
	// leaves no backlog on the stream for the tests after this one.
	ids := make([]string, 0, len(accepted))
	for _, id := range accepted {
		ids = append(ids, id)
	}
	start = time.Now()
	notified, dead := notifiedOrDead(t, ids, 60*time.Second+time.Duration(n)*50*time.Millisecond)
	t.Logf("reliability intake: notified %d, dead-lettered %d, neither %d, in %v", len(notified), len(dead),
		len(ids)-len(notified)-len(dead), time.Since(start).Round(time.Millisecond))
	if len(notified)+len(dead) != len(ids) {
		t.Errorf("%d accepted leads neither notified nor dead-lettered", len(ids)-len(notified)-len(dead))
	}
}

// submitAll stores n leads through intake (retrying 503s with the same key) and returns their ids.
func submitAll(t *testing.T, form domain.Form, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		key := fmt.Sprintf("%s-%d", form.ID, i)
		body, _ := json.Marshal(map[string]string{"name": "Rel " + strconv.Itoa(i), "email": fmt.Sprintf("%s-%d@example.dk", form.ID, i), "message": key})
		for try := 1; ; try++ {
			req, _ := http.NewRequest(http.MethodPost, local.GatewayURL+"/v1/forms/"+form.ID+"/submissions", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct{ ID string }
			_ = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				ids = append(ids, out.ID)
				break
			}
			if resp.StatusCode != http.StatusServiceUnavailable || try == 60 {
				t.Fatalf("submission %s answered %d after %d tries", key, resp.StatusCode, try)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return ids
}

// deadLettered returns the ids of the demo tenant's leads whose stream records went to the notifier's
// on-failure destination, with the attempts made.
func deadLettered() map[string]int {
	out := map[string]int{}
	for _, d := range local.DeadLetters() {
		if d.Function != "notifier" {
			continue
		}
		if tenant, lead, ok := store.ParseLeadKey(d.Stream.Change.Keys[store.AttrPK].String(), d.Stream.Change.Keys[store.AttrSK].String()); ok && tenant == stack.DemoTenant {
			out[lead] = d.Attempts
		}
	}
	return out
}

// notifiedOrDead waits until each lead is notified (its recipient log exists) or dead-lettered.
func notifiedOrDead(t *testing.T, ids []string, within time.Duration) (notified, dead []string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		notified, dead = nil, nil
		dlq := deadLettered()
		for _, id := range ids {
			if _, err := local.Store.Scoped(stack.DemoTenant).Notified(context.Background(), id); err == nil {
				notified = append(notified, id)
			} else if _, ok := dlq[id]; ok {
				dead = append(dead, id)
			}
		}
		if len(notified)+len(dead) == len(ids) || time.Now().After(deadline) {
			return notified, dead
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestReliability_notifier makes SES, S3 and KMS fail under the notifier: every lead must end notified
// or, only after all the stream's attempts, in the on-failure destination.
func TestReliability_notifier(t *testing.T) {
	form := relForm(t, fmt.Sprintf("rel-notify-%d", time.Now().UnixNano()), "")
	faults := withFaults(t, "ses:*:throttle:0.2,ses:*:5xx:0.05,ses:*:drop:0.05,s3:PUT:5xx:0.1,s3:PUT:throttle:0.1,kms:*:throttle:0.1;seed=12")
	ids := submitAll(t, form, 30)
	notified, dead := notifiedOrDead(t, ids, 40*time.Second)
	_, injected, per := faultFigures(faults)
	t.Logf("reliability notifier: leads %d, faults injected %d, notified %d, dead-lettered %d, lost %d; %s",
		len(ids), injected, len(notified), len(dead), len(ids)-len(notified)-len(dead), strings.Join(per, " "))
	if len(notified)+len(dead) != len(ids) {
		t.Errorf("%d of %d leads neither notified nor dead-lettered", len(ids)-len(notified)-len(dead), len(ids))
	}
	if injected == 0 {
		t.Error("no fault was injected; the test proves nothing")
	}

	// SES down for good: the record is tried 1+NotifierRetryAttempts times, then dead-lettered.
	faults = withFaults(t, "ses:POST/v2/email/outbound-emails:5xx:1;seed=13")
	ids = submitAll(t, relForm(t, form.ID+"-down", ""), 1)
	notified, dead = notifiedOrDead(t, ids, 50*time.Second)
	sends := faults.Counts()[0].Matched
	if len(dead) != 1 || len(notified) != 0 {
		t.Fatalf("with SES down, lead %s: notified %v, dead-lettered %v; want it dead-lettered (faults %+v)", ids[0], notified, dead, faults.Counts())
	}
	if attempts := deadLettered()[ids[0]]; attempts != 1+stack.NotifierRetryAttempts || sends < int64(attempts) {
		t.Errorf("dead-lettered after %d attempts with %d sends to SES; want %d attempts, each sending", attempts, sends, 1+stack.NotifierRetryAttempts)
	}
}

// sendMail sends one message to the local MX, retrying temporary failures like an MTA does.
func sendMail(t *testing.T, to, from, msgID, body string) {
	t.Helper()
	msg := "From: " + from + "\r\nTo: " + to + "\r\nSubject: Enquiry\r\nMessage-ID: <" + msgID + ">\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
	var err error
	for try := 0; try < 30; try++ {
		if err = smtp.SendMail(local.SMTPAddr, nil, from, []string{to}, []byte(msg)); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("send mail %s: %v", msgID, err)
}

// TestReliability_emailIntake makes S3, KMS and DynamoDB fail under email-intake: every mail must end
// as exactly one lead or, only after Lambda's asynchronous retries, in the on-failure destination with
// its raw message still stored.
func TestReliability_emailIntake(t *testing.T) {
	alias := fmt.Sprintf("rel-mail-%d", time.Now().UnixNano()%1e9)
	form := relForm(t, alias, alias)
	to := alias + "@" + stack.InboundDomain
	before := len(local.DeadLetters())
	faults := withFaults(t, "s3:PUT:5xx:0.1,s3:GET:5xx:0.15,s3:GET:throttle:0.1,s3:DELETE:5xx:0.1,kms:*:throttle:0.1,"+
		"dynamodb:TransactWriteItems:5xx@after:0.1,dynamodb:*:throttle:0.05;seed=14")
	const mails = 20
	for i := range mails {
		sendMail(t, to, fmt.Sprintf("sender%d@example.dk", i), fmt.Sprintf("%s.%d@example.dk", alias, i), "Please call me back.")
	}
	local.WaitInvocations()
	_, injected, per := faultFigures(faults)
	faults.Clear()
	var dead int
	for _, d := range local.DeadLetters()[before:] {
		if d.Function == "email-intake" {
			dead++
		}
	}
	perSender := map[string]int{}
	for _, l := range campaignLeads(t, form.CampaignID) {
		perSender[l.Personal.Email]++
	}
	var dups int
	for s, c := range perSender {
		if c > 1 {
			dups += c - 1
			t.Errorf("mail from %s stored %d times", s, c)
		}
	}
	t.Logf("reliability email-intake: mails %d, faults injected %d, stored %d, dead-lettered %d, duplicates %d, lost %d; %s",
		mails, injected, len(perSender), dead, dups, mails-len(perSender)-dead, strings.Join(per, " "))
	if len(perSender)+dead != mails {
		t.Errorf("stored %d + dead-lettered %d; want %d mails accounted for", len(perSender), dead, mails)
	}

	// S3 reads down for good: three tries (the invocation and 2 retries), then the on-failure destination.
	faults = withFaults(t, "s3:GET/"+stack.InboundBucket+"/:5xx:1;seed=15")
	before = len(local.DeadLetters())
	sendMail(t, to, "down@example.dk", alias+".down@example.dk", "Nobody home?")
	local.WaitInvocations()
	gets := faults.Counts()[0].Matched
	faults.Clear()
	var got []stack.DeadLetter
	for _, d := range local.DeadLetters()[before:] {
		if d.Function == "email-intake" {
			got = append(got, d)
		}
	}
	if len(got) != 1 || got[0].Attempts != 1+stack.AsyncRetryAttempts || gets < int64(got[0].Attempts) {
		t.Fatalf("with S3 reads failing: dead letters %+v after %d reads; want one after %d attempts", got, gets, 1+stack.AsyncRetryAttempts)
	}
	// Nothing is lost: the raw mail waits in the bucket for a redrive of the dead letter.
	rec := got[0].S3.Records[0].S3
	if _, err := local.AWS.S3().HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(rec.Bucket.Name), Key: aws.String(rec.Object.Key)}); err != nil {
		t.Errorf("dead-lettered mail %s is gone from the bucket: %v", rec.Object.Key, err)
	}
	// The operator's redrive would process it now; here it is removed so later tests find the bucket empty.
	if _, err := local.AWS.S3().DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(rec.Bucket.Name), Key: aws.String(rec.Object.Key)}); err != nil {
		t.Error(err)
	}
}

// TestReliability_jobs deletes a campaign while DynamoDB fails: the job must finish (the stream retries
// it, and the schedule's resumption picks it up if the stream gave up) with nothing left. A deletion
// cannot finish before jobs.DeletionSettle (35 s) after its start, which is most of this test's time.
func TestReliability_jobs(t *testing.T) {
	form := relForm(t, fmt.Sprintf("rel-jobs-%d", time.Now().UnixNano()), "")
	submitAll(t, form, 40)
	faults := withFaults(t, "dynamodb:*:throttle:0.1,dynamodb:*:5xx:0.05,dynamodb:*:5xx@after:0.05,dynamodb:*:drop@after:0.02;seed=16")
	ctx := context.Background()
	var err error
	for try := 0; try < 20; try++ {
		// What the controller API does; its client retries on a 503.
		if _, err = local.Store.Scoped(stack.DemoTenant).StartCampaignDeletion(ctx, form.CampaignID, "job-"+form.ID); err == nil || errors.Is(err, store.ErrExists) {
			break
		}
	}
	if err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatalf("start deletion: %v", err)
	}
	deadline := time.Now().Add(55 * time.Second)
	resumed := 0
	for {
		job, err := local.Store.Scoped(stack.DemoTenant).CampaignDeletion(ctx, form.CampaignID)
		if err == nil && job.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign deletion not done after 55 s: %+v, %v", job, err)
		}
		time.Sleep(time.Second)
		// The hourly schedule, sped up: resume what the stream gave up on.
		if _, err := local.Jobs.Resume(ctx); err == nil {
			resumed++
		}
	}
	_, injected, per := faultFigures(faults)
	faults.Clear()
	left := campaignLeads(t, form.CampaignID)
	t.Logf("reliability jobs: leads 40, faults injected %d, resumptions %d, leads left %d; %s", injected, resumed, len(left), strings.Join(per, " "))
	if len(left) != 0 {
		t.Errorf("%d leads left after the campaign's deletion finished", len(left))
	}
	if injected == 0 {
		t.Error("no fault was injected; the test proves nothing")
	}
}
