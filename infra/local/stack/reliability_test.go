package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	err := local.Store.PutCampaign(ctx, stack.DemoTenant, store.Campaign{ID: id, Name: id, CreatedAt: time.Now()})
	if err != nil && !errors.Is(err, store.ErrExists) {
		t.Fatal(err)
	}
	if err := local.Store.PutForm(ctx, f); err != nil {
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
		leads, next, err := local.Store.LeadsByCampaign(context.Background(), tk, campaign, store.Page{Limit: 100, Cursor: cursor})
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
		"AWS requests matched %d, faults injected %d, accepted %d, stored %d, duplicates %d, lost %d, in %v",
		n, sent.Load(), unavailable.Load(), noRetryAfter.Load() == 0, matched, injected, len(accepted), storedN, duplicates, lost, elapsed.Round(time.Millisecond))
	t.Logf("faults per rule (injected/matched): %s", strings.Join(per, " "))
	if injected == 0 {
		t.Error("no fault was injected; the test proves nothing")
	}
}
