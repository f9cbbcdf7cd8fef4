package sesinbound

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/mail"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

var update = flag.Bool("update", false, "rewrite events/email-intake/s3-put.json from ses-message.eml")

// The fixtures in events/email-intake: one stored message and the notification for it.
const (
	fixtureDir    = "../../../events/email-intake"
	fixtureID     = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g01"
	fixtureBucket = "leadvault-inbound-local"
	fixtureRegion = "eu-west-1"
)

var fixtureTime = time.Date(2026, 11, 23, 12, 0, 0, 412_000_000, time.UTC)

// fixtureEvent is the S3 notification for ses-message.eml stored at inbound/<fixtureID>.
func fixtureEvent(eml []byte) events.S3Event {
	return Event(fixtureRegion, fixtureBucket, "inbound/"+fixtureID, int64(len(eml)), md5hex(eml), fixtureTime)
}

func TestFixtures_s3Put(t *testing.T) {
	eml, err := os.ReadFile(filepath.Join(fixtureDir, "ses-message.eml"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	want := fixtureEvent(eml)
	b, err := MarshalEvent(want)
	if err != nil {
		t.Fatalf("MarshalEvent = %v", err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, b, "", "  "); err != nil {
		t.Fatalf("json.Indent = %v", err)
	}
	indented.WriteByte('\n')
	path := filepath.Join(fixtureDir, "s3-put.json")
	if *update {
		if err := os.WriteFile(path, indented.Bytes(), 0o644); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	if !bytes.Equal(got, indented.Bytes()) {
		t.Errorf("%s =\n%s\nwant (go test -run TestFixtures -update rewrites it)\n%s", path, got, indented.Bytes())
	}
	var ev events.S3Event
	if err := json.Unmarshal(got, &ev); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", path, err)
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("json.Unmarshal(%s) = %+v; want %+v", path, ev, want)
	}
	if k := ev.Records[0].S3.Object.URLDecodedKey; k != "inbound/"+fixtureID {
		t.Errorf("%s key = %q; want %q", path, k, "inbound/"+fixtureID)
	}
}

func TestFixtures_sesMessage(t *testing.T) {
	path := filepath.Join(fixtureDir, "ses-message.eml")
	eml, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	if bytes.Contains(bytes.ReplaceAll(eml, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("%s has bare LF line ends; SES stores CRLF", path)
	}
	names, block, rest := splitHeaders(t, eml)
	if !reflect.DeepEqual(names, sesFields) {
		t.Errorf("%s header fields = %q; want %q", path, names, sesFields)
	}
	for _, want := range []string{
		"Return-Path: <jens@example.dk>\r\n",
		" by inbound-smtp." + fixtureRegion + ".amazonaws.com with SMTP id " + fixtureID + "\r\n",
		" for demo-contact@in.localhost;\r\n",
		"Received-SPF: none (spfCheck: ",
		" dkim=none;\r\n dmarc=none header.from=example.dk;\r\n",
		"; bh=" + bodyHash(rest) + ";",
	} {
		if !strings.Contains(block, want) {
			t.Errorf("%s SES headers =\n%s\nwant them to contain %q", path, block, want)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(eml))
	if err != nil {
		t.Fatalf("mail.ReadMessage(%s) = %v", path, err)
	}
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	if err != nil || from.Name != "Jens Hansen" || from.Address != "jens@example.dk" {
		t.Errorf("From = %v, %v; want Jens Hansen <jens@example.dk>", from, err)
	}
	if to := msg.Header.Get("To"); to != "demo-contact@in.localhost" {
		t.Errorf("To = %q; want %q", to, "demo-contact@in.localhost")
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type = %q; want multipart/alternative", ct)
	}
	for _, want := range []string{"t=C3=B8mrerfirma", "=C3=85rhus", "=C3=A6", "--=20\r\nJens Hansen\r\nTlf. +45 20 12 34 56\r\n"} {
		if !bytes.Contains(rest, []byte(want)) {
			t.Errorf("%s body lacks %q", path, want)
		}
	}
}

func TestFixtures_initProbe(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtureDir, "init-probe.json"))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var ev events.S3Event
	if err := json.Unmarshal(b, &ev); err != nil || ev.Records == nil || len(ev.Records) != 0 {
		t.Errorf("init-probe.json = %+v, %v; want an empty Records list", ev, err)
	}
}
