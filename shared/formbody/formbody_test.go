package formbody

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

const (
	ctForm = "application/x-www-form-urlencoded"
	ctJSON = "application/json"
)

type fields = map[string][]string

func TestParse_urlencoded(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want fields
	}{
		{"empty", Request{ContentType: ctForm}, fields{}},
		{"simple", Request{ContentType: ctForm, Body: "name=Anna&email=anna%40example.com"},
			fields{"name": {"Anna"}, "email": {"anna@example.com"}}},
		{"plus is space", Request{ContentType: ctForm, Body: "name=Anna+Hansen&first+name=A"},
			fields{"name": {"Anna Hansen"}, "first name": {"A"}}},
		{"utf-8 escapes", Request{ContentType: ctForm, Body: "by=%C3%85rhus&navn=S%C3%B8ren"},
			fields{"by": {"Århus"}, "navn": {"Søren"}}},
		{"raw utf-8", Request{ContentType: ctForm, Body: "by=Århus"}, fields{"by": {"Århus"}}},
		{"repeated keeps order", Request{ContentType: ctForm, Body: "interest=b&x=1&interest=a&interest=c"},
			fields{"interest": {"b", "a", "c"}, "x": {"1"}}},
		{"no equals", Request{ContentType: ctForm, Body: "consent&a=1"}, fields{"consent": {""}, "a": {"1"}}},
		{"empty value", Request{ContentType: ctForm, Body: "a=&b="}, fields{"a": {""}, "b": {""}}},
		{"empty pairs skipped", Request{ContentType: ctForm, Body: "&&a=1&&"}, fields{"a": {"1"}}},
		{"value with equals", Request{ContentType: ctForm, Body: "q=a%3Db=c"}, fields{"q": {"a=b=c"}}},
		{"newlines", Request{ContentType: ctForm, Body: "msg=line1%0D%0Aline2"}, fields{"msg": {"line1\r\nline2"}}},
		{"keys as posted", Request{ContentType: ctForm, Body: "Name=a&name=b"}, fields{"Name": {"a"}, "name": {"b"}}},
		{"charset utf-8", Request{ContentType: ctForm + "; charset=UTF-8", Body: "a=1"}, fields{"a": {"1"}}},
		{"charset quoted", Request{ContentType: ctForm + `; charset="utf-8"`, Body: "a=1"}, fields{"a": {"1"}}},
		{"charset us-ascii", Request{ContentType: ctForm + "; charset=us-ascii", Body: "a=1"}, fields{"a": {"1"}}},
		{"type case-insensitive", Request{ContentType: "Application/X-WWW-Form-URLEncoded", Body: "a=1"}, fields{"a": {"1"}}},
		{"base64", Request{ContentType: ctForm, Body: b64("name=Anna&by=%C3%85rhus"), Base64: true},
			fields{"name": {"Anna"}, "by": {"Århus"}}},
		{"max fields", Request{ContentType: ctForm, Body: manyPairs(MaxFields)}, nil},
		{"max value", Request{ContentType: ctForm, Body: "a=" + strings.Repeat("x", MaxValueBytes)},
			fields{"a": {strings.Repeat("x", MaxValueBytes)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.req)
			if err != nil {
				t.Fatalf("Parse(%.80q) error %v; want nil", tt.req.Body, err)
			}
			if got.Kind != KindURLEncoded {
				t.Errorf("Parse(%.80q).Kind = %q; want %q", tt.req.Body, got.Kind, KindURLEncoded)
			}
			if tt.want != nil && !reflect.DeepEqual(got.Fields, tt.want) {
				t.Errorf("Parse(%.80q).Fields = %v; want %v", tt.req.Body, got.Fields, tt.want)
			}
			if got.Files != nil {
				t.Errorf("Parse(%.80q).Files = %v; want nil", tt.req.Body, got.Files)
			}
		})
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func manyPairs(n int) string {
	pairs := make([]string, n)
	for i := range pairs {
		pairs[i] = fmt.Sprintf("f%d=v", i)
	}
	return strings.Join(pairs, "&")
}

// part is one part of a multipart body built by multipartBody.
type part struct {
	name, filename, contentType, content string
	file                                 bool // write a filename parameter even if filename is ""
}

// multipartBody returns a multipart/form-data body of parts and its Content-Type.
func multipartBody(t *testing.T, parts ...part) (body, contentType string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := make(textproto.MIMEHeader)
		// Not %q: that would escape invalid UTF-8, which some tests need raw.
		disp := `form-data; name="` + p.name + `"`
		if p.file || p.filename != "" {
			disp += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte(p.content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), w.FormDataContentType()
}

// browserMultipart is a body as Firefox sends it, with CRLF line ends and an empty file input.
const browserMultipart = "-----------------------------9051914041544843365972754266\r\n" +
	"Content-Disposition: form-data; name=\"name\"\r\n\r\n" +
	"Søren Ærø\r\n" +
	"-----------------------------9051914041544843365972754266\r\n" +
	"Content-Disposition: form-data; name=\"message\"\r\n\r\n" +
	"Hej!\r\nTo linjer.\r\n" +
	"-----------------------------9051914041544843365972754266\r\n" +
	"Content-Disposition: form-data; name=\"attachment\"; filename=\"\"\r\n" +
	"Content-Type: application/octet-stream\r\n\r\n" +
	"\r\n" +
	"-----------------------------9051914041544843365972754266--\r\n"

const browserBoundary = "multipart/form-data; boundary=---------------------------9051914041544843365972754266"

func TestParse_multipart(t *testing.T) {
	type want struct {
		fields fields
		files  []File
	}
	tests := []struct {
		name  string
		parts []part
		want  want
	}{
		{"no parts", nil, want{fields: fields{}}},
		{"fields", []part{{name: "name", content: "Anna"}, {name: "email", content: "anna@example.com"}},
			want{fields: fields{"name": {"Anna"}, "email": {"anna@example.com"}}}},
		{"repeated", []part{{name: "i", content: "b"}, {name: "i", content: "a"}},
			want{fields: fields{"i": {"b", "a"}}}},
		{"utf-8 and newlines", []part{{name: "besked", content: "Hej Søren\r\nÆblegrød"}},
			want{fields: fields{"besked": {"Hej Søren\r\nÆblegrød"}}}},
		{"empty value", []part{{name: "a", content: ""}}, want{fields: fields{"a": {""}}}},
		{"charset on part", []part{{name: "a", contentType: "text/plain; charset=utf-8", content: "x"}},
			want{fields: fields{"a": {"x"}}}},
		{"file", []part{
			{name: "name", content: "Anna"},
			{name: "cv", filename: "cv.pdf", contentType: "application/pdf", content: "%PDF-1.4 hello"},
		}, want{fields: fields{"name": {"Anna"}}, files: []File{{Field: "cv", Filename: "cv.pdf", Size: 14}}}},
		{"two files same field", []part{
			{name: "f", filename: "a.txt", content: "aaa"},
			{name: "f", filename: "b.txt", content: ""},
		}, want{fields: fields{}, files: []File{{"f", "a.txt", 3}, {"f", "b.txt", 0}}}},
		{"file content not utf-8", []part{{name: "f", filename: "x.bin", content: "\xff\xfe\x00"}},
			want{fields: fields{}, files: []File{{"f", "x.bin", 3}}}},
		{"empty file input skipped", []part{{name: "f", file: true}, {name: "a", content: "1"}},
			want{fields: fields{"a": {"1"}}}},
		{"file without name but content", []part{{name: "f", file: true, content: "abc"}},
			want{fields: fields{}, files: []File{{"f", "", 3}}}},
		// In the quoted filename parameter, \\ stands for one backslash.
		{"windows path stripped", []part{{name: "f", filename: `C:\\fakepath\\cv.pdf`, content: "x"}},
			want{fields: fields{}, files: []File{{"f", "cv.pdf", 1}}}},
		{"unix path stripped", []part{{name: "f", filename: "../../etc/passwd", content: "x"}},
			want{fields: fields{}, files: []File{{"f", "passwd", 1}}}},
		{"unicode filename", []part{{name: "f", filename: "ansøgning æøå.pdf", content: "x"}},
			want{fields: fields{}, files: []File{{"f", "ansøgning æøå.pdf", 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.parts...)
			for _, enc := range []bool{false, true} {
				req := Request{ContentType: ct, Body: body, Base64: enc}
				if enc {
					req.Body = b64(body)
				}
				got, err := Parse(req)
				if err != nil {
					t.Fatalf("Parse(%v, base64 %v) error %v; want nil", tt.parts, enc, err)
				}
				if got.Kind != KindMultipart {
					t.Errorf("Parse(%v).Kind = %q; want %q", tt.parts, got.Kind, KindMultipart)
				}
				if !reflect.DeepEqual(got.Fields, tt.want.fields) {
					t.Errorf("Parse(%v).Fields = %v; want %v", tt.parts, got.Fields, tt.want.fields)
				}
				if !reflect.DeepEqual(got.Files, tt.want.files) {
					t.Errorf("Parse(%v).Files = %v; want %v", tt.parts, got.Files, tt.want.files)
				}
			}
		})
	}
}

func TestParse_multipartBrowser(t *testing.T) {
	got, err := Parse(Request{ContentType: browserBoundary, Body: browserMultipart})
	if err != nil {
		t.Fatalf("Parse(browser body) error %v; want nil", err)
	}
	want := fields{"name": {"Søren Ærø"}, "message": {"Hej!\r\nTo linjer."}}
	if !reflect.DeepEqual(got.Fields, want) || got.Files != nil {
		t.Errorf("Parse(browser body) = %v, files %v; want %v, no files", got.Fields, got.Files, want)
	}
}

func TestParse_json(t *testing.T) {
	tests := []struct {
		name, body string
		want       fields
	}{
		{"empty object", "{}", fields{}},
		{"white space", " \n{ } \n", fields{}},
		{"strings", `{"name":"Anna","email":"anna@example.com"}`,
			fields{"name": {"Anna"}, "email": {"anna@example.com"}}},
		{"escapes", `{"by":"\u00c5rhus","msg":"a\nb\t\"c\""}`, fields{"by": {"Århus"}, "msg": {"a\nb\t\"c\""}}},
		{"raw utf-8", `{"navn":"Søren Ærø"}`, fields{"navn": {"Søren Ærø"}}},
		{"numbers keep literal text", `{"a":1,"b":-0.50,"c":1e3,"d":12345678901234567890123}`,
			fields{"a": {"1"}, "b": {"-0.50"}, "c": {"1e3"}, "d": {"12345678901234567890123"}}},
		{"booleans", `{"consent":true,"newsletter":false}`, fields{"consent": {"true"}, "newsletter": {"false"}}},
		{"null is empty", `{"phone":null}`, fields{"phone": {""}}},
		{"keys as posted", `{"Name":"a","name":"b"}`, fields{"Name": {"a"}, "name": {"b"}}},
		{"escaped key", `{"n\u00e6vn":"x"}`, fields{"nævn": {"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, ct := range []string{ctJSON, "application/json; charset=utf-8", "APPLICATION/JSON"} {
				got, err := Parse(Request{ContentType: ct, Body: tt.body})
				if err != nil {
					t.Fatalf("Parse(%q, %q) error %v; want nil", ct, tt.body, err)
				}
				if got.Kind != KindJSON {
					t.Errorf("Parse(%q).Kind = %q; want %q", tt.body, got.Kind, KindJSON)
				}
				if !reflect.DeepEqual(got.Fields, tt.want) {
					t.Errorf("Parse(%q).Fields = %v; want %v", tt.body, got.Fields, tt.want)
				}
			}
		})
	}
}

func TestParse_limits(t *testing.T) {
	// A single longest value padded with empty pairs, so that no other limit applies first.
	atLimit := "a=" + strings.Repeat("x", MaxValueBytes) + strings.Repeat("&", MaxBytes-MaxValueBytes-2)
	if len(atLimit) != MaxBytes {
		t.Fatalf("bad test: body is %d bytes; want %d", len(atLimit), MaxBytes)
	}
	tests := []struct {
		name    string
		req     Request
		wantErr error
	}{
		{"at limit", Request{ContentType: ctForm, Body: atLimit}, nil},
		{"one over", Request{ContentType: ctForm, Body: atLimit + "&"}, ErrTooLarge},
		{"at limit base64", Request{ContentType: ctForm, Body: b64(atLimit), Base64: true}, nil},
		{"one over base64", Request{ContentType: ctForm, Body: b64(atLimit + "&"), Base64: true}, ErrTooLarge},
		{"far over base64", Request{ContentType: ctForm, Body: b64(strings.Repeat("a", 4*MaxBytes)), Base64: true}, ErrTooLarge},
		{"value one over", Request{ContentType: ctForm, Body: "a=" + strings.Repeat("x", MaxValueBytes+1)}, ErrTooLarge},
		{"json value one over", Request{ContentType: ctJSON, Body: `{"a":"` + strings.Repeat("x", MaxValueBytes+1) + `"}`}, ErrTooLarge},
		{"max fields", Request{ContentType: ctForm, Body: manyPairs(MaxFields)}, nil},
		{"too many fields", Request{ContentType: ctForm, Body: manyPairs(MaxFields + 1)}, ErrMalformed},
		{"too many json fields", Request{ContentType: ctJSON, Body: manyJSON(MaxFields + 1)}, ErrMalformed},
		{"max json fields", Request{ContentType: ctJSON, Body: manyJSON(MaxFields)}, nil},
		{"name at limit", Request{ContentType: ctForm, Body: strings.Repeat("n", MaxNameBytes) + "=1"}, nil},
		{"name one over", Request{ContentType: ctForm, Body: strings.Repeat("n", MaxNameBytes+1) + "=1"}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Parse(%d-byte body) error %v; want %v", len(tt.req.Body), err, tt.wantErr)
			}
		})
	}
}

func manyJSON(n int) string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("f%d", i)] = "v"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestParse_errors(t *testing.T) {
	oneFile := func(name string) part { return part{name: "f", filename: name, content: "x"} }
	mp, mpCT := multipartBody(t, part{name: "a", content: "1"})
	mpBadValue, mpBadValueCT := multipartBody(t, part{name: "a", content: "\xff"})
	mpBadName, mpBadNameCT := multipartBody(t, part{name: "\xff", content: "1"})
	mpBadFilename, mpBadFilenameCT := multipartBody(t, oneFile("\xff.txt"))
	mpLatin1, mpLatin1CT := multipartBody(t, part{name: "a", contentType: "text/plain; charset=iso-8859-1", content: "x"})
	mpNoName, mpNoNameCT := multipartBody(t, part{name: "", content: "x"})
	tests := []struct {
		name    string
		req     Request
		wantErr error
	}{
		// 415
		{"no content type", Request{Body: "a=1"}, ErrUnsupportedMediaType},
		{"blank content type", Request{ContentType: "  ", Body: "a=1"}, ErrUnsupportedMediaType},
		{"text/plain", Request{ContentType: "text/plain", Body: "a=1"}, ErrUnsupportedMediaType},
		{"xml", Request{ContentType: "application/xml", Body: "<a/>"}, ErrUnsupportedMediaType},
		{"json suffix", Request{ContentType: "application/ld+json", Body: "{}"}, ErrUnsupportedMediaType},
		{"garbage type", Request{ContentType: ";;;", Body: "a=1"}, ErrUnsupportedMediaType},
		{"latin-1", Request{ContentType: ctForm + "; charset=ISO-8859-1", Body: "a=1"}, ErrUnsupportedMediaType},
		{"utf-16 json", Request{ContentType: ctJSON + "; charset=utf-16", Body: "{}"}, ErrUnsupportedMediaType},
		{"broken params", Request{ContentType: ctForm + "; charset", Body: "a=1"}, ErrUnsupportedMediaType},
		{"latin-1 part", Request{ContentType: mpLatin1CT, Body: mpLatin1}, ErrUnsupportedMediaType},
		// 400: encoding
		{"bad base64", Request{ContentType: ctForm, Body: "a=1", Base64: true}, ErrMalformed},
		{"truncated base64", Request{ContentType: ctForm, Body: "YT0x=", Base64: true}, ErrMalformed},
		// 400: urlencoded
		{"bad percent in value", Request{ContentType: ctForm, Body: "a=%zz"}, ErrMalformed},
		{"truncated percent", Request{ContentType: ctForm, Body: "a=%4"}, ErrMalformed},
		{"bad percent in name", Request{ContentType: ctForm, Body: "%zz=1"}, ErrMalformed},
		{"invalid utf-8 escaped value", Request{ContentType: ctForm, Body: "a=%FF"}, ErrMalformed},
		{"invalid utf-8 raw value", Request{ContentType: ctForm, Body: "a=\xff"}, ErrMalformed},
		{"invalid utf-8 name", Request{ContentType: ctForm, Body: "%C3=1"}, ErrMalformed},
		{"semicolon", Request{ContentType: ctForm, Body: "a=1;b=2"}, ErrMalformed},
		{"empty name", Request{ContentType: ctForm, Body: "=1"}, ErrMalformed},
		// 400: multipart
		{"no boundary", Request{ContentType: "multipart/form-data", Body: mp}, ErrMalformed},
		{"wrong boundary", Request{ContentType: "multipart/form-data; boundary=nope", Body: mp}, ErrMalformed},
		{"broken multipart params", Request{ContentType: "multipart/form-data; boundary=", Body: mp}, ErrMalformed},
		{"truncated multipart", Request{ContentType: mpCT, Body: mp[:len(mp)-10]}, ErrMalformed},
		{"not multipart", Request{ContentType: mpCT, Body: "a=1"}, ErrMalformed},
		{"multipart invalid utf-8 value", Request{ContentType: mpBadValueCT, Body: mpBadValue}, ErrMalformed},
		{"multipart invalid utf-8 name", Request{ContentType: mpBadNameCT, Body: mpBadName}, ErrMalformed},
		{"multipart invalid utf-8 filename", Request{ContentType: mpBadFilenameCT, Body: mpBadFilename}, ErrMalformed},
		{"multipart part without name", Request{ContentType: mpNoNameCT, Body: mpNoName}, ErrMalformed},
		// 400: JSON
		{"json empty", Request{ContentType: ctJSON, Body: ""}, ErrMalformed},
		{"json array", Request{ContentType: ctJSON, Body: `[{"a":"1"}]`}, ErrMalformed},
		{"json string", Request{ContentType: ctJSON, Body: `"a"`}, ErrMalformed},
		{"json null", Request{ContentType: ctJSON, Body: `null`}, ErrMalformed},
		{"json nested object", Request{ContentType: ctJSON, Body: `{"a":{"b":"c"}}`}, ErrMalformed},
		{"json nested array", Request{ContentType: ctJSON, Body: `{"a":["b"]}`}, ErrMalformed},
		{"json duplicate key", Request{ContentType: ctJSON, Body: `{"a":"1","a":"2"}`}, ErrMalformed},
		{"json duplicate key escaped", Request{ContentType: ctJSON, Body: `{"a":"1","\u0061":"2"}`}, ErrMalformed},
		{"json invalid utf-8", Request{ContentType: ctJSON, Body: "{\"a\":\"\xff\"}"}, ErrMalformed},
		{"json invalid utf-8 key", Request{ContentType: ctJSON, Body: "{\"\xff\":\"1\"}"}, ErrMalformed},
		{"json trailing data", Request{ContentType: ctJSON, Body: `{"a":"1"} {}`}, ErrMalformed},
		{"json trailing garbage", Request{ContentType: ctJSON, Body: `{"a":"1"}x`}, ErrMalformed},
		{"json unterminated", Request{ContentType: ctJSON, Body: `{"a":"1"`}, ErrMalformed},
		{"json missing value", Request{ContentType: ctJSON, Body: `{"a":}`}, ErrMalformed},
		{"json missing comma", Request{ContentType: ctJSON, Body: `{"a":"1" "b":"2"}`}, ErrMalformed},
		{"json trailing comma", Request{ContentType: ctJSON, Body: `{"a":"1",}`}, ErrMalformed},
		{"json single quotes", Request{ContentType: ctJSON, Body: `{'a':'1'}`}, ErrMalformed},
		{"json empty key", Request{ContentType: ctJSON, Body: `{"":"1"}`}, ErrMalformed},
		{"json bom", Request{ContentType: ctJSON, Body: "\ufeff{}"}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse(%q, %.60q) = %v, %v; want error wrapping %v", tt.req.ContentType, tt.req.Body, got, err, tt.wantErr)
			}
			if got.Fields != nil || got.Files != nil || got.Kind != "" {
				t.Errorf("Parse(%q, %.60q) = %v with error; want zero Body", tt.req.ContentType, tt.req.Body, got)
			}
			for _, other := range []error{ErrTooLarge, ErrUnsupportedMediaType, ErrMalformed} {
				if other != tt.wantErr && errors.Is(err, other) {
					t.Errorf("Parse(%q, %.60q) error %v also wraps %v", tt.req.ContentType, tt.req.Body, err, other)
				}
			}
		})
	}
}

// TestParse_errorsHideValues checks that error text names fields but never quotes a value.
func TestParse_errorsHideValues(t *testing.T) {
	const secret = "SECRETVALUE"
	mp, ct := multipartBody(t, part{name: "a", content: secret + "\xff"})
	reqs := []Request{
		{ContentType: ctForm, Body: "email=" + secret + "%zz"},
		{ContentType: ctForm, Body: "email=" + secret + "%FF"},
		{ContentType: ctJSON, Body: `{"email":"` + secret + `",}`},
		{ContentType: ctJSON, Body: `{"email":"` + secret + `" x}`},
		{ContentType: ctJSON, Body: `{"email":` + secret + `}`},
		{ContentType: ctJSON, Body: `{"email":["` + secret + `"]}`},
		{ContentType: ct, Body: mp},
		{ContentType: ct, Body: strings.Replace(mp, "\r\n\r\n", "\r\n"+secret+"\r\n", 1)},
		{ContentType: ct, Body: mp[:len(mp)-8] + secret},
	}
	for _, req := range reqs {
		_, err := Parse(req)
		if err == nil {
			t.Errorf("Parse(%q) = nil error; want an error", req.Body)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("Parse(%q) error %q quotes a value", req.Body, err)
		}
	}
}

// TestParse_fixtures parses the API Gateway events under /events, if any, and checks that each either
// parses or fails with one of the package's errors. The fixtures belong to another part of the project,
// so their absence is not a failure.
func TestParse_fixtures(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	more, _ := filepath.Glob(filepath.Join("..", "..", "events", "*", "*.json"))
	paths = append(paths, more...)
	if len(paths) == 0 {
		t.Skip("no fixtures under events/")
	}
	// The intake fixtures are valid contact forms, one of each kind.
	wantKind := map[string]Kind{
		filepath.Join("intake", "urlencoded.json"): KindURLEncoded,
		filepath.Join("intake", "multipart.json"):  KindMultipart,
		filepath.Join("intake", "json.json"):       KindJSON,
	}
	n := 0
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil || ev.RequestContext.HTTP.Method == "" {
			continue // not an HTTP API event
		}
		ct := ""
		for k, v := range ev.Headers {
			if strings.EqualFold(k, "Content-Type") {
				ct = v
			}
		}
		if ct == "" && ev.Body == "" {
			continue
		}
		n++
		body, err := Parse(Request{ContentType: ct, Body: ev.Body, Base64: ev.IsBase64Encoded})
		if kind, ok := wantKind[filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path))]; ok {
			if err != nil || body.Kind != kind || body.Get("email") == "" {
				t.Errorf("%s: Parse = kind %q, email set %v, error %v; want kind %q, an email, no error",
					path, body.Kind, body.Get("email") != "", err, kind)
			}
		}
		switch {
		case err == nil:
			for name, values := range body.Fields {
				if !utf8.ValidString(name) {
					t.Errorf("%s: field name not valid UTF-8", path)
				}
				for _, v := range values {
					if !utf8.ValidString(v) {
						t.Errorf("%s: field %q not valid UTF-8", path, name)
					}
				}
			}
			t.Logf("%s: %s, %d fields, %d files", filepath.Base(path), body.Kind, len(body.Fields), len(body.Files))
		case errors.Is(err, ErrTooLarge), errors.Is(err, ErrUnsupportedMediaType), errors.Is(err, ErrMalformed):
			t.Logf("%s: %v", filepath.Base(path), err)
		default:
			t.Errorf("%s: Parse error %v wraps none of the package's errors", path, err)
		}
	}
	if n == 0 {
		t.Skip("no HTTP API events with a body under events/")
	}
}

// fuzzContentTypes are the content types FuzzParse picks from.
var fuzzContentTypes = []string{
	ctForm,
	ctForm + "; charset=utf-8",
	ctJSON,
	ctJSON + "; charset=latin1",
	"multipart/form-data; boundary=XyZ",
	"multipart/form-data",
	"text/plain",
	"",
	"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", // as in events/intake
}

func FuzzParse(f *testing.F) {
	f.Add(uint8(0), "name=Anna&email=anna%40example.com", false)
	f.Add(uint8(2), `{"name":"Anna","n":1.5,"ok":true,"x":null}`, false)
	f.Add(uint8(4), "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n", false)
	f.Add(uint8(1), b64("a=%C3%85"), true)
	f.Fuzz(func(t *testing.T, ctIndex uint8, body string, isBase64 bool) {
		ct := fuzzContentTypes[int(ctIndex)%len(fuzzContentTypes)]
		got, err := Parse(Request{ContentType: ct, Body: body, Base64: isBase64})
		if err != nil {
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedMediaType) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q, %q) error %v wraps none of the package's errors", ct, body, err)
			}
			if got.Fields != nil || got.Files != nil {
				t.Fatalf("Parse(%q, %q) = %v with error %v; want zero Body", ct, body, got, err)
			}
			return
		}
		if got.Fields == nil {
			t.Fatalf("Parse(%q, %q).Fields = nil; want a map", ct, body)
		}
		n := len(got.Files)
		for name, values := range got.Fields {
			if name == "" || len(name) > MaxNameBytes || !utf8.ValidString(name) {
				t.Fatalf("Parse(%q, %q): bad field name %q", ct, body, name)
			}
			if len(values) == 0 {
				t.Fatalf("Parse(%q, %q): field %q has no values", ct, body, name)
			}
			for _, v := range values {
				if len(v) > MaxValueBytes || !utf8.ValidString(v) {
					t.Fatalf("Parse(%q, %q): bad value in field %q", ct, body, name)
				}
			}
			n += len(values)
		}
		if n > MaxFields {
			t.Fatalf("Parse(%q, %q): %d fields; want at most %d", ct, body, n, MaxFields)
		}
		for _, file := range got.Files {
			if file.Field == "" || !utf8.ValidString(file.Field) || !utf8.ValidString(file.Filename) ||
				file.Size < 0 || file.Size > MaxBytes {
				t.Fatalf("Parse(%q, %q): bad file %+v", ct, body, file)
			}
		}
	})
}

// contactForm is a typical five-field contact form.
var contactForm = map[string]string{
	"name":    "Mette Sørensen",
	"email":   "mette.sorensen@example.dk",
	"phone":   "+45 22 34 56 78",
	"message": "Hej, vi vil gerne have et tilbud på efterisolering af vores tag i Aarhus. Kan I ringe efter kl. 16?",
	"consent": "true",
}

func BenchmarkParse_urlencoded(b *testing.B) {
	var pairs []string
	for k, v := range contactForm {
		pairs = append(pairs, k+"="+strings.ReplaceAll(strings.ReplaceAll(fmt.Sprint(v), "%", "%25"), " ", "+"))
	}
	req := Request{ContentType: ctForm + "; charset=UTF-8", Body: b64(strings.Join(pairs, "&")), Base64: true}
	benchParse(b, req)
}

func BenchmarkParse_json(b *testing.B) {
	body, err := json.Marshal(contactForm)
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, Request{ContentType: ctJSON, Body: string(body)})
}

func benchParse(b *testing.B, req Request) {
	b.Helper()
	b.SetBytes(int64(len(req.Body)))
	b.ReportAllocs()
	if got, err := Parse(req); err != nil || len(got.Fields) != len(contactForm) {
		b.Fatalf("Parse(%q) = %v, %v; want %d fields", req.Body, got.Fields, err, len(contactForm))
	}
	for b.Loop() {
		if _, err := Parse(req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecode_sameAsStreaming holds the one-go base64 path to what the streaming decoder, used for long
// bodies, answers for the same input.
func TestDecode_sameAsStreaming(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	for _, in := range []string{
		"", enc([]byte("a=1&b=2")), enc([]byte("ab")), enc([]byte("abc")), "YWJj\r\nZGVm", "YWJjZA", "YWJjZA=",
		"YWJj ZGVm", "YW*j", "YWJjZA==YWJj", "====", "\n\n", enc(bytes.Repeat([]byte("x"), MaxBytes)),
		enc(bytes.Repeat([]byte("x"), MaxBytes+1)), enc(bytes.Repeat([]byte("x"), MaxBytes+2)),
	} {
		got, gotErr := decode(Request{Body: in, Base64: true})
		data, err := io.ReadAll(io.LimitReader(base64.NewDecoder(base64.StdEncoding, strings.NewReader(in)), MaxBytes+1))
		want, wantErr := string(data), err != nil || len(data) > MaxBytes
		if wantErr {
			want = ""
		}
		if got != want || (gotErr != nil) != wantErr {
			t.Errorf("decode(%.20q…) = %d bytes, %v; want %d bytes, error %v", in, len(got), gotErr, len(want), wantErr)
		}
	}
}
