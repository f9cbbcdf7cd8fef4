package formapi

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"leadvault/shared/domain"
	"leadvault/shared/httpapi"
)

// client is what the request says about how its sender wants to be answered.
type client struct {
	// html is true for a browser that would show a JSON body as raw text: see prefersHTML.
	html bool
	// acceptLanguage is the Accept-Language header, for the error page when the form names no language.
	acceptLanguage string
}

// negotiate reads the client's preferences. A browser marks a script's request with a Sec-Fetch-Mode
// other than "navigate" (a header scripts cannot set): fetch() posting FormData sends "Accept: */*" like a
// form would, but it cannot show a page, so it is answered as a script whatever Accept says.
func negotiate(r *http.Request) client {
	mode := r.Header.Get("Sec-Fetch-Mode")
	return client{
		html:           (mode == "" || mode == "navigate") && prefersHTML(httpapi.Header(r, "Accept"), r.Header.Get("Content-Type")),
		acceptLanguage: httpapi.Header(r, "Accept-Language"),
	}
}

// prefersHTML is the one decision between answering a browser (a 303 or an HTML page) and answering a
// script (JSON or problem+json). It is true when Accept ranks text/html above application/json, or ranks
// them equally (an absent Accept or "*/*" among them) and the body is what a plain HTML form posts.
func prefersHTML(accept, contentType string) bool {
	if strings.TrimSpace(accept) == "" {
		accept = "*/*"
	}
	qHTML, qJSON := quality(accept, "text", "html"), quality(accept, "application", "json")
	if qHTML != qJSON {
		return qHTML > qJSON
	}
	if qHTML == 0 {
		return false
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/x-www-form-urlencoded" || mt == "multipart/form-data"
}

// quality is the q-value Accept gives type/subtype, from its most specific matching range (RFC 9110
// section 12.5.1); 0 if none matches or the value is malformed.
func quality(accept, typ, subtype string) float64 {
	best, specificity := 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		params := strings.Split(part, ";")
		t, s, ok := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
		if !ok {
			continue
		}
		spec := -1
		switch {
		case t == typ && s == subtype:
			spec = 2
		case t == typ && s == "*":
			spec = 1
		case t == "*" && s == "*":
			spec = 0
		}
		if spec <= specificity {
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		best, specificity = q, spec
	}
	return best
}

// language picks the error page's language: the form's own, else the best of Danish and English in
// Accept-Language, else English.
func language(f *domain.Form, acceptLanguage string) string {
	if f != nil && f.Language != "" {
		return f.Language
	}
	lang, best := domain.LanguageEnglish, 0.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		params := strings.Split(part, ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "-")
		if primary != domain.LanguageDanish && primary != domain.LanguageEnglish {
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				} else {
					q = 0
				}
			}
		}
		if q > best {
			lang, best = primary, q
		}
	}
	return lang
}
