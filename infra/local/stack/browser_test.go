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

// TestBrowser_plainFormError posts the plain HTML form with an address the browser accepts but intake
// does not (no dot in the domain) and checks what the visitor sees: an HTML page in their language that
// names the field without repeating what they typed, and a back button that returns to the form with
// everything they typed still there.
func TestBrowser_plainFormError(t *testing.T) {
	tests := []struct {
		acceptLanguage, lang, title, fieldText string
	}{
		{"", "en", "Your message was not sent", "E-mail: must be a valid e-mail address"},
		{"da-DK,da;q=0.9,en;q=0.8", "da", "Formularen blev ikke sendt", "E-mail: skal være en gyldig e-mailadresse"},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			ctx := browser(t)
			if tt.acceptLanguage != "" {
				_, err := chromedp.Run(ctx, chromedp.Action[cdp.Empty](func(ctx context.Context, tg *chromedp.Target) (cdp.Empty, error) {
					return cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": tt.acceptLanguage}})
				}))
				if err != nil {
					t.Fatal(err)
				}
			}
			const name, email, message = "Typed Visitor", "typed@example", "Første linje\nAnden linje"
			err := chromedp.Do(ctx,
				chromedp.Navigate(local.GatewayURL+"/demo/"),
				chromedp.WaitVisible(chromedp.CSS(`#send`)),
				chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
				chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
				chromedp.SendKeys(chromedp.CSS(`textarea[name=message]`), message),
				chromedp.Click(chromedp.CSS(`input[name=consent]`)),
				chromedp.Click(chromedp.CSS(`#send`)),
				chromedp.WaitVisible(chromedp.CSS(`#problems`)),
			)
			if err != nil {
				t.Fatalf("post invalid plain form: %v", err)
			}
			type page struct {
				Lang        string `json:"lang"`
				ContentType string `json:"contentType"`
				Status      int    `json:"status"`
				Title       string `json:"title"`
				H1          string `json:"h1"`
				Problems    string `json:"problems"`
				Body        string `json:"body"`
				BackShown   bool   `json:"backShown"`
			}
			got, err := chromedp.Run(ctx, chromedp.Evaluate[page](`({
				lang: document.documentElement.lang,
				contentType: document.contentType,
				status: performance.getEntriesByType("navigation")[0].responseStatus,
				title: document.title,
				h1: document.querySelector("h1").textContent,
				problems: document.querySelector("#problems").innerText,
				body: document.body.innerText,
				backShown: !document.getElementById("back").hidden,
			})`))
			if err != nil {
				t.Fatalf("read error page: %v", err)
			}
			if got.ContentType != "text/html" || got.Status != 422 || got.Lang != tt.lang || got.Title != tt.title || got.H1 != tt.title {
				t.Errorf("error page = %s %d lang %q title %q h1 %q; want text/html 422 in %s titled %q",
					got.ContentType, got.Status, got.Lang, got.Title, got.H1, tt.lang, tt.title)
			}
			if !strings.Contains(got.Problems, tt.fieldText) || strings.Contains(got.Body, "{") {
				t.Errorf("error page lists %q; want %q and no JSON", got.Problems, tt.fieldText)
			}
			if strings.Contains(got.Body, "Typed") || strings.Contains(got.Body, "typed@") || strings.Contains(got.Body, "linje") {
				t.Errorf("error page repeats what was typed: %q", got.Body)
			}
			if !got.BackShown {
				t.Errorf("the back button is hidden; its script did not run under the page's CSP")
			}

			// The page's own button goes back; the browser restores the form as it was.
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#back`))); err != nil {
				t.Fatalf("click back: %v", err)
			}
			// Chromium restores the form page from its back/forward cache, which chromedp's WaitVisible
			// does not notice as a navigation; ask the page itself until it is the form again.
			deadline := time.Now().Add(15 * time.Second)
			for {
				onForm, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.pathname === "/demo/" && document.querySelector("#send") !== null`))
				if err == nil && onForm {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("back button did not return to the form (last error %v)", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("back to the form: %v", err)
			}
			type form struct {
				Location, Name, Email, Message string
				Consent                        bool
			}
			back, err := chromedp.Run(ctx, chromedp.Evaluate[form](`({
				Location: location.pathname,
				Name: document.querySelector("input[name=name]").value,
				Email: document.querySelector("input[name=email]").value,
				Message: document.querySelector("textarea[name=message]").value,
				Consent: document.querySelector("input[name=consent]").checked,
			})`))
			if err != nil {
				t.Fatalf("read the form after going back: %v", err)
			}
			if want := (form{"/demo/", name, email, message, true}); back != want {
				t.Errorf("form after going back = %+v; want %+v", back, want)
			}
		})
	}
}
