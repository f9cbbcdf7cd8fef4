package formapi

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"leadvault/shared/domain"
	"leadvault/shared/formbody"
	"leadvault/shared/problem"
)

// The error page's only script and style. The page's Content-Security-Policy allows exactly these by
// their hashes, so no inline handler (onclick) or other script can run on it: the script un-hides the
// back button and wires it to history.back(), which returns to the form with what the visitor typed;
// without scripts the button stays hidden and a <noscript> hint names the browser's own back button.
const (
	pageScript = `var b=document.getElementById("back");b.hidden=false;b.addEventListener("click",function(){history.back()});b.focus();`
	pageStyle  = `body{font-family:system-ui,sans-serif;line-height:1.5;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}` +
		`h1{font-size:1.5rem}li{margin:.25rem 0}button{font:inherit;padding:.5rem 1rem;cursor:pointer}small{color:#555}`
)

var pageCSP = "default-src 'none'; script-src " + hash(pageScript) + "; style-src " + hash(pageStyle) +
	"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

type pageField struct{ Name, Code, Label, Message string }

type pageData struct {
	Lang, Title, Intro, Back, NoScript, Reference, RequestID string
	Fields                                                   []pageField
}

// text is one string in each language.
type text struct{ da, en string }

func (t text) in(lang string) string {
	if lang == domain.LanguageDanish {
		return t.da
	}
	return t.en
}

// pages holds each problem's title and explanation; %d in an explanation is the Retry-After in seconds.
var pages = map[string][2]text{
	"validation-failed": {
		{"Formularen blev ikke sendt", "Your message was not sent"},
		{"Ret venligst det følgende og send formularen igen:", "Please correct the following and send the form again:"}},
	"body-too-large": {
		{"Formularen er for stor", "The form is too large"},
		{"Det sendte fylder mere end " + strconv.Itoa(formbody.MaxBytes>>10) + " KiB. Gør teksten kortere og send igen.",
			"What was sent is larger than " + strconv.Itoa(formbody.MaxBytes>>10) + " KiB. Please shorten the text and send it again."}},
	"unsupported-media-type": {
		{"Formularen kunne ikke læses", "The form could not be read"},
		{"Formularen sendes i et format, vi ikke modtager. Kontakt gerne sidens ejer.", "The form is sent in a format we do not accept. Please tell the site's owner."}},
	"attachments-not-accepted": {
		{"Filer kan ikke sendes her", "Files cannot be sent here"},
		{"Denne formular modtager ikke vedhæftede filer. Fjern filen og send igen.", "This form does not accept attachments. Please remove the file and send the form again."}},
	"malformed-body": {
		{"Formularen kunne ikke læses", "The form could not be read"},
		{"Det sendte kunne ikke læses. Gå tilbage og send formularen igen.", "What was sent could not be read. Please go back and send the form again."}},
	"invalid-idempotency-key": {
		{"Formularen kunne ikke læses", "The form could not be read"},
		{"Anmodningen var ugyldig. Gå tilbage og send formularen igen.", "The request was invalid. Please go back and send the form again."}},
	"idempotency-key-reused": {
		{"Formularen blev ikke sendt", "Your message was not sent"},
		{"Anmodningen gentog en tidligere med andet indhold. Gå tilbage, genindlæs siden og send igen.", "The request repeated an earlier one with other content. Please go back, reload the page and send again."}},
	"rate-limited": {
		{"For mange henvendelser lige nu", "Too many messages right now"},
		{"Formularen har modtaget for mange henvendelser. Vent %d sekunder, gå tilbage og send igen.", "The form has received too many messages. Please wait %d seconds, go back and send it again."}},
	"temporarily-unavailable": {
		{"Midlertidigt utilgængelig", "Temporarily unavailable"},
		{"Henvendelsen kunne ikke gemmes lige nu. Vent %d sekunder, gå tilbage og send igen; den gemmes ikke to gange.", "Your message could not be stored right now. Please wait %d seconds, go back and send it again; it will not be stored twice."}},
	"form-not-found": {
		{"Formularen findes ikke", "This form does not exist"},
		{"Formularen modtager ikke henvendelser. Kontakt gerne sidens ejer på anden vis.", "This form does not take messages. Please contact the site's owner another way."}},
	"contract-ended": {
		{"Formularen er lukket", "This form is closed"},
		{"Formularen modtager ikke længere henvendelser, og intet blev gemt. Kontakt gerne sidens ejer på anden vis.", "This form no longer takes messages, and nothing was stored. Please contact the site's owner another way."}},
	"origin-not-allowed": {
		{"Formularen blev ikke sendt", "Your message was not sent"},
		{"Formularen modtager ikke henvendelser fra denne side. Kontakt gerne sidens ejer.", "This form does not take messages from this page. Please tell the site's owner."}},
	"method-not-allowed": {
		{"Her er ingen side", "There is no page here"},
		{"Denne adresse modtager kun formularer.", "This address only receives forms."}},
}

var fallbackPage = pages["malformed-body"]

// fieldTexts explains each validation code; every message describes the rule, never the value.
var fieldTexts = map[string]text{
	"required":              {"skal udfyldes", "is required"},
	"invalid_email":         {"skal være en gyldig e-mailadresse, fx navn@example.com", "must be a valid e-mail address such as name@example.com"},
	"invalid_phone":         {"skal være et gyldigt telefonnummer, gerne med landekode (fx +45)", "must be a valid phone number, preferably with its country code (e.g. +44)"},
	"too_long":              {"er for lang; gør teksten kortere", "is too long; please shorten it"},
	"consent_required":      {"du skal give dit samtykke for at sende formularen", "you must give your consent to send the form"},
	"special_category_data": {"må ikke indeholde CPR-numre eller betalingskortnumre", "must not contain CPR or payment card numbers"},
}

var fieldLabels = map[string]text{
	domain.FieldName: {"Navn", "Name"}, domain.FieldEmail: {"E-mail", "E-mail"}, domain.FieldPhone: {"Telefon", "Phone"},
	domain.FieldAddress: {"Adresse", "Address"}, domain.FieldCompany: {"Firma", "Company"}, domain.FieldMessage: {"Besked", "Message"},
}

var chrome = struct{ back, backToPage, noScript, noScriptPage, reference text }{
	text{"Tilbage til formularen", "Back to the form"},
	text{"Tilbage til siden", "Back to the page"},
	text{"Brug browserens tilbage-knap for at komme tilbage til formularen; det, du skrev, er der stadig.",
		"Use your browser's back button to return to the form; what you typed is still there."},
	text{"Brug browserens tilbage-knap for at komme tilbage til siden.", "Use your browser's back button to return to the page."},
	text{"Reference", "Reference"},
}

// label names a posted field for a visitor: the lead field's name in their language, or the posted name
// (form configuration, never a value) for the consent box and custom fields.
func label(f *domain.Form, posted, lang string) string {
	if f != nil {
		if t, ok := fieldLabels[f.Fields[posted]]; ok {
			return t.in(lang)
		}
		if f.Consent != nil && posted == f.Consent.Field {
			return text{"Samtykke", "Consent"}.in(lang)
		}
	}
	return posted
}

// answer sends p to the client as it prefers: problem+json to a script; to a browser, a 303 to the
// form's errorURL when it has one, else an HTML page. f is nil when no form was found.
func answer(w http.ResponseWriter, p *problem.Problem, rid string, c client, f *domain.Form) {
	if !c.html {
		p.Write(w, rid)
		return
	}
	p.SetHeaders(w.Header())
	slug := strings.TrimPrefix(p.Type, problem.TypePrefix)
	if f != nil && f.ErrorURL != "" {
		w.Header().Set("Location", errorLocation(f.ErrorURL, slug, p))
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	lang := language(f, c.acceptLanguage)
	t, ok := pages[slug]
	if !ok {
		t = fallbackPage
	}
	d := newPage(lang, rid, t, chrome.back, chrome.noScript)
	d.Intro = strings.Replace(d.Intro, "%d", strconv.Itoa(retrySeconds(p.RetryAfter)), 1)
	for _, e := range p.Errors {
		msg := e.Message
		if ft, ok := fieldTexts[e.Code]; ok {
			msg = ft.in(lang)
		}
		d.Fields = append(d.Fields, pageField{Name: e.Field, Code: e.Code, Label: label(f, e.Field, lang), Message: msg})
	}
	writePage(w, p.Status, lang, d)
}

// receivedPage is the thank-you page a browser gets for a form that names no redirectURL: a plain HTML
// form never shows the visitor JSON, whether the post failed or succeeded.
var receivedPage = [2]text{
	{"Tak for din henvendelse", "Thank you for your message"},
	{"Vi har modtaget din henvendelse.", "We have received your message."},
}

// thanks answers a browser's accepted submission with the thank-you page in the form's language; the
// lead's id is the page's reference, as it is the JSON answer's.
func thanks(w http.ResponseWriter, f *domain.Form, c client, leadID string) {
	lang := language(f, c.acceptLanguage)
	writePage(w, http.StatusCreated, lang, newPage(lang, leadID, receivedPage, chrome.backToPage, chrome.noScriptPage))
}

func newPage(lang, reference string, t [2]text, back, noScript text) pageData {
	return pageData{
		Lang: lang, Title: t[0].in(lang), Intro: t[1].in(lang), Back: back.in(lang),
		NoScript: noScript.in(lang), Reference: chrome.reference.in(lang), RequestID: reference,
	}
}

// render writes the page. It is built by hand rather than with html/template: that package reaches
// methods through reflection, which makes the linker keep every exported method of every type in the
// binary (over 1 MB of intake's zip). Every value is escaped with html.EscapeString, which escapes the five
// characters that matter in element content and in double-quoted attribute values; the script and style
// are constants whose hashes the CSP names.
func (d pageData) render() string {
	e := html.EscapeString
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html lang=\"" + e(d.Lang) + "\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n" +
		"<title>" + e(d.Title) + "</title>\n<style>" + pageStyle + "</style>\n</head>\n<body>\n<main>\n" +
		"<h1>" + e(d.Title) + "</h1>\n<p id=\"summary\">" + e(d.Intro) + "</p>")
	if len(d.Fields) > 0 {
		b.WriteString("\n<ul id=\"problems\" aria-labelledby=\"summary\">")
		for _, f := range d.Fields {
			b.WriteString("\n<li data-field=\"" + e(f.Name) + "\" data-code=\"" + e(f.Code) + "\"><strong>" + e(f.Label) +
				"</strong>: " + e(f.Message) + "</li>")
		}
		b.WriteString("\n</ul>")
	}
	b.WriteString("\n<p><button type=\"button\" id=\"back\" hidden>" + e(d.Back) + "</button></p>\n" +
		"<noscript><p>" + e(d.NoScript) + "</p></noscript>\n<p><small>" + e(d.Reference) + ": " + e(d.RequestID) +
		"</small></p>\n</main>\n<script>" + pageScript + "</script>\n</body>\n</html>\n")
	return b.String()
}

// writePage answers status with the page d, with the headers of every HTML page intake sends.
func writePage(w http.ResponseWriter, status int, lang string, d pageData) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", pageCSP)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Language", lang)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, d.render())
}

// errorLocation is errorURL with error=<problem slug>, fields=<posted field names> and, when the client
// should wait, retryAfter=<seconds> added to its query. Slugs and field names come from Leadvault and the
// form's configuration; no submitted value ever goes into the URL.
func errorLocation(errorURL, slug string, p *problem.Problem) string {
	u, err := url.Parse(errorURL)
	if err != nil {
		return errorURL // validated when the form was saved
	}
	q := u.Query()
	q.Set("error", slug)
	var fields []string
	for _, e := range p.Errors {
		if !slices.Contains(fields, e.Field) {
			fields = append(fields, e.Field)
		}
	}
	if len(fields) > 0 {
		q.Set("fields", strings.Join(fields, ","))
	}
	if p.RetryAfter > 0 {
		q.Set("retryAfter", strconv.Itoa(retrySeconds(p.RetryAfter)))
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func retrySeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
