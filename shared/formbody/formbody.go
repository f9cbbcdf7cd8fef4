// Package formbody parses the body of a web form submission as API Gateway hands it to a Lambda function:
// URL-encoded, multipart or a flat JSON object.
//
// Errors wrap one of ErrTooLarge, ErrUnsupportedMediaType or ErrMalformed, so that an HTTP adapter can
// map them to 413, 415 and 400. Their text may name fields but never holds a value: values are personal
// data.
package formbody

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Limits on what Parse accepts.
const (
	// MaxBytes is the largest body Parse accepts, counted after base64 decoding.
	MaxBytes = 256 << 10
	// MaxFields is the largest number of fields (values and files together) Parse accepts.
	MaxFields = 200
	// MaxValueBytes is the longest field value Parse accepts.
	MaxValueBytes = 64 << 10
	// MaxNameBytes is the longest field name Parse accepts.
	MaxNameBytes = 256
)

// The errors Parse wraps.
var (
	// ErrTooLarge reports a body longer than MaxBytes or a value longer than MaxValueBytes (HTTP 413).
	ErrTooLarge = errors.New("form body too large")
	// ErrUnsupportedMediaType reports a missing or unsupported content type or charset (HTTP 415).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrMalformed reports a body that does not parse as its content type says, or breaks a limit
	// other than size (HTTP 400).
	ErrMalformed = errors.New("malformed form body")
)

// Request is what Parse needs of an HTTP request.
type Request struct {
	ContentType string // the raw Content-Type header value (may include charset/boundary)
	Body        string // as in events.APIGatewayV2HTTPRequest.Body
	Base64      bool   // IsBase64Encoded
}

// Kind names the encoding of a parsed body.
type Kind string

// The encodings Parse supports.
const (
	KindURLEncoded Kind = "urlencoded"
	KindMultipart  Kind = "multipart"
	KindJSON       Kind = "json"
)

// Body is a parsed form submission.
type Body struct {
	Fields map[string][]string // every value in order; keys as posted
	Files  []File              // multipart file parts (not their content beyond counting bytes)
	Kind   Kind                // "urlencoded", "multipart", "json"
}

// Get returns the first value of the named field, or "" if there is none.
func (b Body) Get(name string) string {
	if v := b.Fields[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// File describes one uploaded file. Its content is not kept.
type File struct {
	Field    string // the form field it was posted as
	Filename string // as posted, less any directories ("" if the client sent none)
	Size     int64  // in bytes
}

// Parse decodes and parses a form body.
//
// It supports application/x-www-form-urlencoded, multipart/form-data and application/json (a flat object
// whose values are strings, numbers, booleans or null), each with no charset or a charset of utf-8 or
// us-ascii. Every field name and value must be valid UTF-8. A JSON number keeps its literal text, a
// boolean becomes "true" or "false" and null becomes a single empty value, as an empty form input would.
// A multipart part with a filename is a File; a file input left empty (no filename and no content) is
// skipped.
func Parse(r Request) (Body, error) {
	kind, params, err := mediaType(r.ContentType)
	if err != nil {
		return Body{}, err
	}
	data, err := decode(r)
	if err != nil {
		return Body{}, err
	}
	p := parser{body: Body{Fields: make(map[string][]string), Kind: kind}}
	switch kind {
	case KindURLEncoded:
		err = p.urlencoded(data)
	case KindMultipart:
		err = p.multipart(data, params["boundary"])
	case KindJSON:
		err = p.json(data)
	}
	if err != nil {
		return Body{}, err
	}
	return p.body, nil
}

// mediaType returns the kind of body a Content-Type header value announces and its parameters.
func mediaType(contentType string) (Kind, map[string]string, error) {
	if strings.TrimSpace(contentType) == "" {
		return "", nil, fmt.Errorf("%w: no content type", ErrUnsupportedMediaType)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	var kind Kind
	switch mt {
	case "application/x-www-form-urlencoded":
		kind = KindURLEncoded
	case "multipart/form-data":
		kind = KindMultipart
	case "application/json":
		kind = KindJSON
	default:
		if mt == "" {
			return "", nil, fmt.Errorf("%w: unreadable content type", ErrUnsupportedMediaType)
		}
		return "", nil, fmt.Errorf("%w: content type %q", ErrUnsupportedMediaType, truncate(mt))
	}
	if err != nil {
		// The type is known but a parameter is broken, so we cannot tell its charset or boundary.
		if kind == KindMultipart {
			return "", nil, fmt.Errorf("%w: unreadable multipart parameters", ErrMalformed)
		}
		return "", nil, fmt.Errorf("%w: unreadable content type parameters", ErrUnsupportedMediaType)
	}
	if err := checkCharset(params); err != nil {
		return "", nil, err
	}
	return kind, params, nil
}

// checkCharset accepts no charset, utf-8 and its subset us-ascii.
func checkCharset(params map[string]string) error {
	cs, ok := params["charset"]
	if !ok {
		return nil
	}
	switch strings.ToLower(cs) {
	case "utf-8", "us-ascii":
		return nil
	}
	return fmt.Errorf("%w: charset %q", ErrUnsupportedMediaType, truncate(cs))
}

// decode returns the body, base64-decoded if need be, within MaxBytes.
func decode(r Request) (string, error) {
	if !r.Base64 {
		if len(r.Body) > MaxBytes {
			return "", fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxBytes)
		}
		return r.Body, nil
	}
	if len(r.Body) <= base64.StdEncoding.EncodedLen(MaxBytes) {
		// A body this short decodes to at most MaxBytes+2 bytes: decode it in one go, which spares the
		// streaming decoder's buffers on every submission.
		data, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return "", fmt.Errorf("%w: bad base64 encoding", ErrMalformed)
		}
		if len(data) > MaxBytes {
			return "", fmt.Errorf("%w: more than %d bytes after base64 decoding", ErrTooLarge, MaxBytes)
		}
		return string(data), nil
	}
	// Stream the decoding so that a huge body costs no more than MaxBytes+1 bytes of memory.
	dec := base64.NewDecoder(base64.StdEncoding, strings.NewReader(r.Body))
	data, err := io.ReadAll(io.LimitReader(dec, MaxBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: bad base64 encoding", ErrMalformed)
	}
	if len(data) > MaxBytes {
		return "", fmt.Errorf("%w: more than %d bytes after base64 decoding", ErrTooLarge, MaxBytes)
	}
	return string(data), nil
}

// parser collects fields into body while enforcing the limits.
type parser struct {
	body  Body
	count int // fields and files so far
}

// next counts one more field or file.
func (p *parser) next() error {
	p.count++
	if p.count > MaxFields {
		return fmt.Errorf("%w: too many fields (more than %d)", ErrMalformed, MaxFields)
	}
	return nil
}

func (p *parser) checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: field %d has no name", ErrMalformed, p.count)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("%w: field %q: name longer than %d bytes", ErrMalformed, truncate(name), MaxNameBytes)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: field %q: name is not valid UTF-8", ErrMalformed, truncate(name))
	}
	return nil
}

// add appends a value to the named field. The name must have been checked.
func (p *parser) add(name, value string) error {
	if len(value) > MaxValueBytes {
		return fmt.Errorf("%w: field %q: value longer than %d bytes", ErrTooLarge, name, MaxValueBytes)
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("%w: field %q is not valid UTF-8", ErrMalformed, name)
	}
	p.body.Fields[name] = append(p.body.Fields[name], value)
	return nil
}

// urlencoded parses data as net/url.ParseQuery does, but stops at the first error.
func (p *parser) urlencoded(data string) error {
	rest := data
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		if err := p.next(); err != nil {
			return err
		}
		if strings.Contains(pair, ";") {
			return fmt.Errorf("%w: field %d: semicolon separator", ErrMalformed, p.count)
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return fmt.Errorf("%w: field %d: bad percent-encoding in name", ErrMalformed, p.count)
		}
		if err := p.checkName(name); err != nil {
			return err
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return fmt.Errorf("%w: field %q: bad percent-encoding", ErrMalformed, name)
		}
		if err := p.add(name, value); err != nil {
			return err
		}
	}
	return nil
}

// multipart parses data as multipart/form-data with the given boundary.
func (p *parser) multipart(data, boundary string) error {
	if boundary == "" {
		return fmt.Errorf("%w: multipart without boundary", ErrMalformed)
	}
	mr := multipart.NewReader(strings.NewReader(data), boundary)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			// The reader's errors can quote body lines, so they are not passed on.
			return fmt.Errorf("%w: broken multipart body after %d parts", ErrMalformed, p.count)
		}
		if err := p.part(part); err != nil {
			return err
		}
	}
}

func (p *parser) part(part *multipart.Part) error {
	if err := p.next(); err != nil {
		return err
	}
	_, disp, err := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
	if err != nil {
		return fmt.Errorf("%w: part %d: unreadable Content-Disposition", ErrMalformed, p.count)
	}
	name := part.FormName()
	if err := p.checkName(name); err != nil {
		return err
	}
	if filename, isFile := disp["filename"]; isFile {
		return p.file(part, name, filename)
	}
	if ct := part.Header.Get("Content-Type"); ct != "" {
		_, params, err := mime.ParseMediaType(ct)
		if err != nil {
			return fmt.Errorf("%w: field %q: unreadable content type", ErrUnsupportedMediaType, name)
		}
		if err := checkCharset(params); err != nil {
			return fmt.Errorf("field %q: %w", name, err)
		}
	}
	value, err := io.ReadAll(io.LimitReader(part, MaxValueBytes+1))
	if err != nil {
		return fmt.Errorf("%w: field %q: broken part", ErrMalformed, name)
	}
	return p.add(name, string(value))
}

// file counts the bytes of a file part and records it under its base name.
func (p *parser) file(part *multipart.Part, name, filename string) error {
	if !utf8.ValidString(filename) {
		return fmt.Errorf("%w: field %q: file name is not valid UTF-8", ErrMalformed, name)
	}
	// Browsers send only the base name, but some old ones and scripts send a whole path.
	filename = filename[strings.LastIndexAny(filename, `/\`)+1:]
	size, err := io.Copy(io.Discard, part)
	if err != nil {
		return fmt.Errorf("%w: field %q: broken file part", ErrMalformed, name)
	}
	if filename == "" && size == 0 {
		p.count-- // a file input left empty
		return nil
	}
	p.body.Files = append(p.body.Files, File{Field: name, Filename: filename, Size: size})
	return nil
}

// json parses data as a flat JSON object.
func (p *parser) json(data string) error {
	// The decoder would quietly replace invalid UTF-8 with U+FFFD.
	if !utf8.ValidString(data) {
		return fmt.Errorf("%w: JSON body is not valid UTF-8", ErrMalformed)
	}
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return jsonSyntaxError(err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("%w: JSON body is not an object", ErrMalformed)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonSyntaxError(err)
		}
		name, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: JSON syntax error at offset %d", ErrMalformed, dec.InputOffset())
		}
		if err := p.next(); err != nil {
			return err
		}
		if err := p.checkName(name); err != nil {
			return err
		}
		if _, dup := p.body.Fields[name]; dup {
			return fmt.Errorf("%w: field %q appears twice", ErrMalformed, name)
		}
		tok, err = dec.Token()
		if err != nil {
			return jsonSyntaxError(err)
		}
		var value string
		switch v := tok.(type) {
		case string:
			value = v
		case json.Number:
			value = v.String()
		case bool:
			value = "false"
			if v {
				value = "true"
			}
		case nil:
			value = ""
		case json.Delim:
			return fmt.Errorf("%w: field %q: nested objects and arrays are not supported", ErrMalformed, name)
		}
		if err := p.add(name, value); err != nil {
			return err
		}
	}
	// The closing brace, then nothing but white space.
	if _, err := dec.Token(); err != nil {
		return jsonSyntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

// jsonSyntaxError describes a decoding error by its offset only: encoding/json's messages quote input.
func jsonSyntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w: JSON syntax error at offset %d", ErrMalformed, se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: JSON body ends early", ErrMalformed)
	}
	return fmt.Errorf("%w: JSON syntax error", ErrMalformed)
}

// truncate shortens a name or media type for an error message.
func truncate(s string) string {
	const maxLen = 64
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
