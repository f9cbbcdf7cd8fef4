package stack_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser starts Debian's chromium headless with every phone-home turned off and a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("LEADVAULT_REQUIRE_BROWSER") != "" {
			t.Fatalf("chromium not found (make test installs Debian's chromium): %v", err)
		}
		t.Skip("chromium not installed; `make test` installs it")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

func fill(name, email, phone, message string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(`#send`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=phone]`), phone),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=message]`), message),
		chromedp.Click(chromedp.CSS(`input[name=consent]`)),
		chromedp.Click(chromedp.CSS(`#send`)),
	)
}

func attr(ctx context.Context, t *testing.T, name string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#result`), name))
	if err != nil {
		t.Fatalf("read #result[%s]: %v", name, err)
	}
	return v.Value
}

func TestBrowser_demoForms(t *testing.T) {
	ctx := browser(t)

	// The plain HTML form: the browser posts urlencoded and follows the 303 to the thank-you page.
	err := chromedp.Do(ctx,
		chromedp.Navigate(local.GatewayURL+"/demo/"),
		fill("Plain Form", "plain@example.dk", "20 10 20 30", "Sendt fra en almindelig formular"),
		chromedp.WaitVisible(chromedp.CSS(`#thanks`)),
	)
	if err != nil {
		t.Fatalf("plain form: %v", err)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(location, "/demo/thanks.html") {
		t.Errorf("after posting, the browser is at %q (%v); want the thank-you page", location, err)
	}
	plain := leadByEmail(t, "plain@example.dk")
	if plain.Personal.Name != "Plain Form" || plain.Personal.Phone != "+4520102030" || plain.Consent == nil || !plain.Consent.Given {
		t.Errorf("stored plain-form lead = %+v, consent %+v", plain.Personal, plain.Consent)
	}

	// The fetch() variant posts JSON with an Idempotency-Key and shows the 201's id.
	err = chromedp.Do(ctx,
		chromedp.Navigate(local.GatewayURL+"/demo/fetch.html"),
		fill("Fetch Form", "fetch@example.dk", "20 40 50 60", "Sendt med fetch"),
		chromedp.WaitVisible(chromedp.CSS(`#result.ok`)),
	)
	if err != nil {
		t.Fatalf("fetch form: %v", err)
	}
	status, id := attr(ctx, t, "data-status"), attr(ctx, t, "data-id")
	if status != "201" || id == "" {
		t.Errorf("fetch answer = status %q id %q; want 201 with an id", status, id)
	}
	viaFetch := leadByEmail(t, "fetch@example.dk")
	if viaFetch.ID != id || viaFetch.Personal.Message != "Sendt med fetch" {
		t.Errorf("stored fetch lead = %s %+v; want %s", viaFetch.ID, viaFetch.Personal, id)
	}

	// A bad submission in the fetch variant shows the problem's field errors.
	err = chromedp.Do(ctx,
		chromedp.Navigate(local.GatewayURL+"/demo/fetch.html"),
		chromedp.WaitVisible(chromedp.CSS(`#send`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "No Mail"),
		chromedp.Click(chromedp.CSS(`#send`)),
		chromedp.WaitVisible(chromedp.CSS(`#result.error`)),
	)
	if err != nil {
		t.Fatalf("fetch form, invalid: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#result`)))
	if status := attr(ctx, t, "data-status"); err != nil || status != "422" || !strings.Contains(text, "email") || !strings.Contains(text, "consent") {
		t.Errorf("invalid fetch answer = %s %q (%v); want 422 naming email and consent", status, text, err)
	}

	// No cookies, first- or third-party, were set along the way (E3).
	cookies, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{local.GatewayURL}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cookies.Cookies) > 0 {
		t.Errorf("browser holds %d cookies; want none", len(cookies.Cookies))
	}
}
