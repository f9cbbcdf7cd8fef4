package mailparse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const inbox = "demo-contact@in.leadvault.example"

// parseFile parses testdata/name.
func parseFile(t *testing.T, name string) (*Message, error) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return Parse(bytes.NewReader(data))
}

// mustParseFile parses testdata/name and fails the test on an error.
func mustParseFile(t *testing.T, name string) *Message {
	t.Helper()
	m, err := parseFile(t, name)
	if err != nil {
		t.Fatalf("Parse(%s) = %v; want nil", name, err)
	}
	return m
}

// checkMessage compares every field of got with want (Size only if want has one), reporting each that
// differs.
func checkMessage(t *testing.T, name string, got, want *Message) {
	t.Helper()
	gv, wv := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range gv.NumField() {
		field := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		switch field {
		case "Date":
			if !got.Date.Equal(want.Date) {
				t.Errorf("Parse(%s) = Date %v; want %v", name, got.Date, want.Date)
			}
			continue
		case "Size":
			if want.Size == 0 {
				continue
			}
		case "To", "Cc", "Attachments":
			if gv.Field(i).Len() == 0 && wv.Field(i).Len() == 0 {
				continue
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("Parse(%s) = %s %#v; want %#v", name, field, g, w)
		}
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse_plain(t *testing.T) {
	checkMessage(t, "plain.eml", mustParseFile(t, "plain.eml"), &Message{
		MessageID:   "5E8B2C1A-7F3D-4A9E-B6C2-1D0E9F8A7B6C@icloud.com",
		FromName:    "Mette Larsen",
		FromAddress: "mette.larsen@icloud.com",
		To:          []string{inbox},
		Subject:     "Forespørgsel om tilbud",
		Date:        date("Tue, 14 Jan 2025 10:12:30 +0100"),
		Text: "Hej,\n\nVi er ved at renovere vores kontor i Århus og søger et tilbud på 12 nye arbejdspladser.\n" +
			"Kan I give et overslag på levering før 1. marts?\n\nVenlig hilsen\nMette Larsen\n" +
			"Indkøber, Nordlys Ejendomme A/S",
		SpamVerdict:  "PASS",
		VirusVerdict: "PASS",
		Size:         2377,
	})
}

func TestParse_htmlOnly(t *testing.T) {
	checkMessage(t, "html_outlook.eml", mustParseFile(t, "html_outlook.eml"), &Message{
		MessageID:   "AM9PR08MB6785A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6@AM9PR08MB6785.eurprd08.prod.outlook.com",
		FromName:    "James O'Connor",
		FromAddress: "James.OConnor@contoso.example",
		To:          []string{inbox},
		Subject:     "Quote request - 25 licences",
		Date:        date("Tue, 14 Jan 2025 09:05:11 +0000"),
		// styles, the head, Outlook's conditional comments and the script are gone; the &nbsp;
		// paragraphs are blank lines; the link keeps its text; entities are decoded.
		Text: "Dear Leadvault team,\n\n" +
			"We would like a quote for 25 licences & onboarding for our sales team.\n" +
			"Please see our requirements on our website before you call.\n\n" +
			"Best regards\nJames O\u2019Connor\nHead of Sales Operations | Contoso Ltd.\nPhone: +44 20 7946 0958",
		Phone:        "+44 20 7946 0958",
		SpamVerdict:  "PASS",
		VirusVerdict: "PASS",
	})
}

func TestParse_alternative(t *testing.T) {
	// Gmail's multipart/alternative: the text/plain part is the body, not the HTML one.
	checkMessage(t, "gmail_alternative.eml", mustParseFile(t, "gmail_alternative.eml"), &Message{
		MessageID:    "CAHx9k2Yp3q+Lm0n7Rz1WqX4vB6tU8sE5dF2gH1jK3lM4nO5pQ@mail.gmail.com",
		FromName:     "Anders Kjær",
		FromAddress:  "anders.kjaer@gmail.com",
		To:           []string{inbox},
		Subject:      "Levering til Bornholm?",
		Date:         date("Tue, 14 Jan 2025 10:12:20 +0100"),
		Text:         "Hej,\n\nJeg har udfyldt jeres formular, men vil lige høre om I også leverer til Bornholm?\n\nMvh\nAnders Kjær",
		SpamVerdict:  "PASS",
		VirusVerdict: "PASS",
	})
}

func TestParse_latin1(t *testing.T) {
	checkMessage(t, "latin1.eml", mustParseFile(t, "latin1.eml"), &Message{
		MessageID:   "20250113164402.7f3a9c@webmail.webhuset.example",
		FromName:    "Birthe Ørsted",
		FromAddress: "birthe@bageriet-naestved.example",
		To:          []string{inbox},
		Subject:     "Forespørgsel",
		Date:        date("Mon, 13 Jan 2025 16:44:02 +0100"),
		Text: "Hej med jer\n\nVi er et lille bageri i Næstved og vil gerne høre prisen på jeres løsning.\n" +
			"Vores åbningstider er 6-18, så ring gerne før kl. 9.\n\nMed venlig hilsen\nBirthe Ørsted",
		SpamVerdict:  "PASS",
		VirusVerdict: "PASS",
	})
}

func TestParse_windows1252(t *testing.T) {
	checkMessage(t, "windows1252.eml", mustParseFile(t, "windows1252.eml"), &Message{
		MessageID:   "000001db6650$8e1c2f30$aa548d90$@brightdesk.example",
		FromName:    "Niamh Byrne",
		FromAddress: "niamh@brightdesk.example",
		To:          []string{inbox},
		Subject:     "Starter plan question",
		Date:        date("Tue, 14 Jan 2025 08:01:44 +0000"),
		Text: "Hi,\n\nWe saw your \u201cStarter\u201d plan at €49 per month \u2013 does that include the GDPR " +
			"\u201cdata processing agreement\u201d?\nIt\u2019s for a team of five.\n\nKind regards,\nNiamh",
		SpamVerdict:  "PASS",
		VirusVerdict: "PASS",
	})
}

func TestParse_encodedWords(t *testing.T) {
	tests := []struct {
		file, subject, fromName string
	}{
		{"subject_q_utf8.eml", "Tilbud på grøn strøm til værkstedet", "Søren Æble"},
		{"subject_b_utf8.eml", "Spørgsmål om æbler, øl og ål – hurtigt svar ønskes", "Åse Østergård"},
		{"subject_q_latin1.eml", "Køb af æbler og øl på Åbyhøj", "Jørgen Ågaard"},
		{"subject_b_latin1.eml", "Re: Blåbærgrød og rødgrød med fløde", "Mads Bæk"},
	}
	for _, tt := range tests {
		m := mustParseFile(t, tt.file)
		if m.Subject != tt.subject {
			t.Errorf("Parse(%s) = Subject %q; want %q", tt.file, m.Subject, tt.subject)
		}
		if m.FromName != tt.fromName {
			t.Errorf("Parse(%s) = FromName %q; want %q", tt.file, m.FromName, tt.fromName)
		}
	}
}

func TestParse_forwarded(t *testing.T) {
	tests := []struct {
		file  string
		text  string
		phone string
		atts  []Attachment
	}{
		{
			// Gmail's "Forwarded message" block is body text and stays.
			file: "forward_gmail.eml",
			text: "Kan I tage denne? Kunden skrev til mig direkte.\n\n" +
				"---------- Forwarded message ---------\n" +
				"From: Karen Holm <karen.holm@holmtransport.example>\n" +
				"Date: Mon, Jan 13, 2025 at 3:41 PM\n" +
				"Subject: Tilbud på flytning\n" +
				"To: Peter Winther <peter.winther@gmail.com>\n\n\n" +
				"Hej Peter,\n\nVi skal flytte 40 arbejdspladser fra Valby til Ørestad i marts. Kan I give et tilbud?\n\n" +
				"Venlig hilsen\nKaren Holm\nHolm Transport ApS\nTlf. 33 12 45 78",
			phone: "33 12 45 78",
		},
		{
			// An attached message/rfc822: its text follows the body; it and its own attachment are listed.
			file: "forward_attached.eml",
			text: "Videresendt fra vores info-postkasse.\n\n" +
				"---------- Forwarded message ---------\n" +
				"From: Lars Vinther <lars@vikingvvs.example>\n" +
				"Date: Fri, 10 Jan 2025 14:02:11 +0100\n" +
				"Subject: Forespørgsel på service\n" +
				"To: info@leadvault-kunde.example\n\n" +
				"Hej,\n\nVi har brug for en serviceaftale på 3 varmepumper i Kolding.\n\nMvh Lars",
			atts: []Attachment{
				{Filename: "plantegning.pdf", ContentType: "application/pdf", Size: 528},
				{Filename: "Forespørgsel på service.eml", ContentType: "message/rfc822", Size: 1567},
			},
		},
	}
	for _, tt := range tests {
		m := mustParseFile(t, tt.file)
		if m.Text != tt.text {
			t.Errorf("Parse(%s) = Text %q; want %q", tt.file, m.Text, tt.text)
		}
		if m.Phone != tt.phone {
			t.Errorf("Parse(%s) = Phone %q; want %q", tt.file, m.Phone, tt.phone)
		}
		if len(m.Attachments)+len(tt.atts) > 0 && !reflect.DeepEqual(m.Attachments, tt.atts) {
			t.Errorf("Parse(%s) = Attachments %+v; want %+v", tt.file, m.Attachments, tt.atts)
		}
	}
}

func TestParse_attachments(t *testing.T) {
	checkMessage(t, "attachments.eml", mustParseFile(t, "attachments.eml"), &Message{
		MessageID:   "CAJ0n4sFr1iS+k2L3m4N5o6P7q8R9s0T1u2V3w4X5y6Z7a8B9c@mail.gmail.com",
		FromName:    "Jonas Friis",
		FromAddress: "jonas.friis@gmail.com",
		To:          []string{inbox},
		Cc:          []string{"Maja@friis-co.example", "bogholderi@friis-co.example"},
		Subject:     "Kravspecifikation",
		Date:        date("Tue, 14 Jan 2025 12:01:09 +0100"),
		Text:        "Hej,\n\nVedhæftet er vores kravspecifikation og et billede af lokalet.\n\nMvh\nJonas Friis\nFriis & Co. ApS",
		Attachments: []Attachment{
			{Filename: "Kravspecifikation v2.pdf", ContentType: "application/pdf", Size: 3071},
			{Filename: "lokale Østerbro.png", ContentType: "image/png", Size: 3389},
		},
		SpamVerdict:  "PASS",
		VirusVerdict: "PASS",
		Size:         13167,
	})
}

func TestParse_bounce(t *testing.T) {
	checkMessage(t, "bounce.eml", mustParseFile(t, "bounce.eml"), &Message{
		MessageID:   "0102019463a1b2c3-d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f7a-000000@eu-west-1.amazonses.com",
		FromAddress: "MAILER-DAEMON@eu-west-1.amazonses.com",
		To:          []string{inbox},
		Subject:     "Delivery Status Notification (Failure)",
		Date:        date("Tue, 14 Jan 2025 09:20:04 +0000"),
		Text: "The following message to <no-such-user@example.org> was undeliverable.\n" +
			"The reason for the problem:\n5.1.1 - Bad destination mailbox address: 550 5.1.1 User unknown",
		// a non-text inline part counts as an attachment; the text/rfc822-headers part is not a body
		Attachments:   []Attachment{{ContentType: "message/delivery-status", Size: 191}},
		AutoGenerated: true,
		SpamVerdict:   "PASS",
		VirusVerdict:  "PASS",
	})
}

func TestParse_autoReply(t *testing.T) {
	checkMessage(t, "autoreply.eml", mustParseFile(t, "autoreply.eml"), &Message{
		MessageID:   "DB9PR07MB9876AUTO1234567890ABCDEF@DB9PR07MB9876.eurprd07.prod.outlook.com",
		FromName:    "Henrik Dahl",
		FromAddress: "henrik.dahl@dahlraadgivning.example",
		To:          []string{inbox},
		Subject:     "Automatisk svar: Tak for din henvendelse",
		Date:        date("Tue, 14 Jan 2025 09:25:31 +0000"),
		Text: "Tak for din mail. Jeg er på ferie til og med den 20. januar og har begrænset adgang til min mail." +
			"\n\nVenlig hilsen\nHenrik Dahl",
		AutoGenerated: true,
		SpamVerdict:   "PASS",
		VirusVerdict:  "PASS",
	})
}

func TestParse_verdicts(t *testing.T) {
	tests := []struct {
		file, spam, virus string
		atts              []Attachment
	}{
		{"spam_fail.eml", "FAIL", "PASS", nil},
		{"virus_fail.eml", "PASS", "FAIL", []Attachment{{"Invoice_2025-0113.zip", "application/x-zip-compressed", 73}}},
		{"plain.eml", "PASS", "PASS", nil},
	}
	for _, tt := range tests {
		m := mustParseFile(t, tt.file)
		if m.SpamVerdict != tt.spam || m.VirusVerdict != tt.virus {
			t.Errorf("Parse(%s) = verdicts %q/%q; want %q/%q", tt.file, m.SpamVerdict, m.VirusVerdict, tt.spam, tt.virus)
		}
		if !reflect.DeepEqual(m.Attachments, tt.atts) {
			t.Errorf("Parse(%s) = Attachments %+v; want %+v", tt.file, m.Attachments, tt.atts)
		}
	}
}

func TestParse_replyTo(t *testing.T) {
	m := mustParseFile(t, "replyto.eml")
	got := [4]string{m.FromName, m.FromAddress, m.ReplyToName, m.ReplyToAddress}
	want := [4]string{"Webflow Forms", "no-reply-forms@webflow.example", "Camilla Brandt", "Camilla.Brandt@brandt-arkitekter.example"}
	if got != want {
		t.Errorf("Parse(replyto.eml) = %q; want %q", got, want)
	}
}

func TestParse_signaturePhone(t *testing.T) {
	m := mustParseFile(t, "signature_phone.eml")
	// The date, the order number and the CVR number are not it.
	if want := "+45 20 12 34 56"; m.Phone != want {
		t.Errorf("Parse(signature_phone.eml) = Phone %q; want %q", m.Phone, want)
	}
	if !strings.Contains(m.Text, "\n-- \nSøren Hansen\n") {
		t.Errorf("Parse(signature_phone.eml) = Text %q; want the signature separator kept", m.Text)
	}
}

func TestParse_flowed(t *testing.T) {
	m := mustParseFile(t, "flowed.eml")
	want := "Hej, dette er en lang linje som Thunderbird har brudt over flere linjer fordi den er over 72 tegn " +
		"lang, men den er stadig et enkelt afsnit.\n\nNæste afsnit.\n\n>Fra forrige mail, space-stuffed.\n-- \nIda"
	if m.Text != want {
		t.Errorf("Parse(flowed.eml) = Text %q; want %q", m.Text, want)
	}
}

func TestFindPhone(t *testing.T) {
	tests := []struct {
		text, want string
	}{
		{"Hej\n\n-- \nSøren\nTlf. +45 20 12 34 56", "+45 20 12 34 56"},
		{"Hej\n\n--\nSøren\nMobil: 20123456", "20123456"},
		{"Hej\n\nMvh\nAnna\n+45 31 22 33 44", "+45 31 22 33 44"},
		{"Hej\n\nMvh\nAnna\nT: (+45) 70 20 30 40 | M: 40 50 60 70", "(+45) 70 20 30 40"},
		{"Best regards\nJohn\nPhone: +1 (555) 123-4567", "+1 (555) 123-4567"},
		{"Hej\nFax 70 11 22 33\nTlf 70 11 22 34", "70 11 22 34"},
		{"Hej\n-- \nFirma · CVR 12345678\nwww.firma.example", ""},
		{"Mødet er 15.02.2025 kl. 10", ""},
		{"Ordre 2025-01-15", ""},
		{"Ring på 33 12 45 78 / 40 11 22 33", "33 12 45 78"},
		{"Vi er 12 personer\n\nMvh", ""},
		{"Tlf. 20\u00a012\u00a034\u00a056", "20\u00a012\u00a034\u00a056"},
		{"> Tlf. 20 12 34 56 (quoted)\nHej", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := findPhone(tt.text); got != tt.want {
			t.Errorf("findPhone(%q) = %q; want %q", tt.text, got, tt.want)
		}
	}
}

// msg builds a message with the given extra header lines and body, CRLF line endings.
func msg(header, body string) string {
	s := "From: Anna <anna@example.dk>\nTo: " + inbox + "\nSubject: Hej\n" +
		"Date: Tue, 14 Jan 2025 10:00:00 +0100\nMessage-ID: <m1@example.dk>\n" + header + "\n" + body
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

func TestParse_autoGenerated(t *testing.T) {
	tests := []struct {
		name, header string
		want         bool
	}{
		{"ordinary", "", false},
		{"auto-replied", "Auto-Submitted: auto-replied\n", true},
		{"auto-generated with comment", "Auto-Submitted: auto-generated (vacation)\n", true},
		{"auto-submitted no", "Auto-Submitted: no\n", false},
		{"precedence bulk", "Precedence: bulk\n", true},
		{"precedence junk", "Precedence: junk\n", true},
		{"precedence list", "Precedence: list\n", true},
		{"precedence auto_reply", "Precedence: auto_reply\n", true},
		{"precedence first-class", "Precedence: first-class\n", false},
		{"x-autoreply", "X-Autoreply: yes\n", true},
		{"x-autorespond empty", "X-Autorespond:\n", true},
		{"dsn", "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n", true},
		{"null return path", "Return-Path: <>\n", true},
		{"return path", "Return-Path: <anna@example.dk>\n", false},
	}
	for _, tt := range tests {
		body := "Hej\n"
		if strings.Contains(tt.header, "multipart") {
			body = "--b\nContent-Type: text/plain\n\nfailed\n--b--\n"
		}
		m, err := Parse(strings.NewReader(msg(tt.header, body)))
		if err != nil {
			t.Fatalf("Parse(%s) = %v; want nil", tt.name, err)
		}
		if m.AutoGenerated != tt.want {
			t.Errorf("Parse(%s) = AutoGenerated %v; want %v", tt.name, m.AutoGenerated, tt.want)
		}
	}
	for _, from := range []string{"postmaster@example.dk", "Mail Delivery System <MAILER-DAEMON@mx.example.dk>"} {
		raw := strings.Replace(msg("", "Hej\n"), "Anna <anna@example.dk>", from, 1)
		if m, err := Parse(strings.NewReader(raw)); err != nil || !m.AutoGenerated {
			t.Errorf("Parse(from %s) = %v, %v; want AutoGenerated", from, m, err)
		}
	}
}

func TestParse_topmostVerdict(t *testing.T) {
	// SES prepends its verdicts; a sender's own copy further down does not count.
	raw := "X-SES-Spam-Verdict: FAIL\r\n" + msg("X-SES-Spam-Verdict: PASS\n", "Hej\n")
	m, err := Parse(strings.NewReader(raw))
	if err != nil || m.SpamVerdict != "FAIL" {
		t.Errorf("Parse(forged verdict) = %v, %v; want SpamVerdict FAIL", m, err)
	}
}

func TestParse_bodies(t *testing.T) {
	tests := []struct {
		name, header, body, want string
	}{
		{"7bit", "Content-Type: text/plain; charset=us-ascii\n", "Hello\n", "Hello"},
		{"no content type", "", "Hello\n", "Hello"},
		{"8bit utf-8", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n", "Kære Åse\n", "Kære Åse"},
		{"invalid utf-8", "Content-Type: text/plain; charset=utf-8\n", "K\xe6re \xff\n", "K\uFFFDre \uFFFD"},
		{"latin-1 undeclared", "Content-Type: text/plain\n", "K\xe6re\n", "Kære"},
		{"iso-8859-15 euro", "Content-Type: text/plain; charset=ISO-8859-15\nContent-Transfer-Encoding: quoted-printable\n", "Pris: 49 =A4\n", "Pris: 49 €"},
		{"windows-1252 quoted", "Content-Type: text/plain; charset=\"Windows-1252\"\nContent-Transfer-Encoding: quoted-printable\n", "=93Hej=94 =80\n", "\u201cHej\u201d €"},
		{"iso-8859-1 read as windows-1252", "Content-Type: text/plain; charset=iso-8859-1\n", "\x93ok\x94 \xe6\n", "\u201cok\u201d æ"},
		{"koi8-r", "Content-Type: text/plain; charset=koi8-r\n", "\xf0\xd2\xc9\xd7\xc5\xd4\n", "Привет"},
		{"unknown charset", "Content-Type: text/plain; charset=x-made-up\n", "plain ascii \xff\n", "plain ascii ÿ"},
		{"base64 utf-8", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n", "S8OmcmUgw4VzZSwK\r\naGVqIQ==\n", "Kære Åse,\nhej!"},
		{"base64 junk", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: BASE64\n", "SGVq*IGRl!\nci\n", "Hej der"},
		{"qp soft breaks", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n", "En lang =\nlinje =C3=A6 =3D ok   \nslut=\n", "En lang linje æ = ok\nslut"},
		{"qp bad escape", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n", "50=% rabat =ZZ\n", "50=% rabat =ZZ"},
		{"control characters", "Content-Type: text/plain\n", "a\x00b\x07c\td\fe\n", "abc\tde"},
		{"c1 controls", "Content-Type: text/plain; charset=utf-8\n", "a\u0085b\u009bc\n", "abc"},
		{"lone CR", "Content-Type: text/plain\n", "a\rb\r\n\rc\n", "a\nb\n\nc"},
		{"trimmed", "Content-Type: text/plain\n", "\n\n  Hej  \n\n", "Hej"},
	}
	for _, tt := range tests {
		raw := msg(tt.header, "")
		m, err := Parse(strings.NewReader(raw + tt.body))
		if err != nil {
			t.Fatalf("Parse(%s) = %v; want nil", tt.name, err)
		}
		if m.Text != tt.want {
			t.Errorf("Parse(%s) = Text %q; want %q", tt.name, m.Text, tt.want)
		}
	}
}

func TestParse_html(t *testing.T) {
	tests := []struct {
		name, html, want string
	}{
		{"gmail divs", `<div dir="ltr">Hej<div><br></div><div>Tak</div></div>`, "Hej\n\nTak"},
		{"outlook paragraphs", `<p class=MsoNormal>Hej<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Tak</p>`, "Hej\n\nTak"},
		{"link text", `Se <a href="https://example.com/x">vores side</a>.`, "Se vores side."},
		{"script and style", `<style>p{color:red}</style><script>var a = "<b>";</script>Tekst`, "Tekst"},
		{"head dropped", `<html><head><title>Emne</title><meta charset="utf-8"></head><body>Krop</body></html>`, "Krop"},
		{"entities", `&aelig;&oslash;&aring; &amp; &lt;tag&gt; &#8364; &euro;`, "æøå & <tag> € €"},
		{"whitespace collapses", "  Et\n   to\t\ttre  ", "Et to tre"},
		{"lists", `<ul><li>en</li><li>to</li></ul>`, "- en\n- to"},
		{"table cells", `<table><tr><td>Navn</td><td>Anna</td></tr><tr><td>Tlf</td><td>12345678</td></tr></table>`, "Navn Anna\nTlf 12345678"},
		{"pre kept", "<pre>a  b\n  c</pre>", "a  b\n  c"},
		{"many breaks", `a<br><br><br><br>b`, "a\n\nb"},
		{"comments", `a<!-- hidden -->b<!--[if mso]>x<![endif]-->`, "ab"},
		{"unclosed", `<div>Hej <b>der`, "Hej der"},
	}
	for _, tt := range tests {
		raw := msg("Content-Type: text/html; charset=utf-8\n", tt.html)
		m, err := Parse(strings.NewReader(raw))
		if err != nil {
			t.Fatalf("Parse(%s) = %v; want nil", tt.name, err)
		}
		if m.Text != tt.want {
			t.Errorf("Parse(%s) = Text %q; want %q", tt.name, m.Text, tt.want)
		}
	}
}

func TestParse_structure(t *testing.T) {
	tests := []struct {
		name, header, body, text string
		atts                     []Attachment
	}{
		{
			name:   "html before plain: plain preferred",
			header: "Content-Type: multipart/alternative; boundary=b\n",
			body:   "--b\nContent-Type: text/html\n\n<p>HTML</p>\n--b\nContent-Type: text/plain\n\nPlain\n--b--\n",
			text:   "Plain",
		},
		{
			name:   "blank plain: html used",
			header: "Content-Type: multipart/alternative; boundary=b\n",
			body:   "--b\nContent-Type: text/plain\n\n \n--b\nContent-Type: text/html\n\n<p>HTML</p>\n--b--\n",
			text:   "HTML",
		},
		{
			name:   "first text part of mixed",
			header: "Content-Type: multipart/mixed; boundary=b\n",
			body: "--b\nContent-Type: text/plain\n\nFirst\n--b\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n\n/9j/4AAQ\n" +
				"--b\nContent-Type: text/plain\n\nSecond\n--b--\n",
			text: "First",
			atts: []Attachment{{ContentType: "image/jpeg", Size: 6}},
		},
		{
			name:   "text attachment is not the body",
			header: "Content-Type: multipart/mixed; boundary=b\n",
			body: "--b\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment; filename=notes.txt\n\nnot body\n" +
				"--b\nContent-Type: text/plain\n\nBody\n--b--\n",
			text: "Body",
			atts: []Attachment{{Filename: "notes.txt", ContentType: "text/plain", Size: 8}},
		},
		{
			name:   "filename without disposition, unquoted with spaces, with a path",
			header: "Content-Type: multipart/mixed; boundary=b\n",
			body: "--b\nContent-Type: text/plain\n\nBody\n" +
				"--b\nContent-Type: application/pdf; name=C:\\Users\\anna\\Tilbud 2025.pdf\n\n%PDF\n--b--\n",
			text: "Body",
			atts: []Attachment{{Filename: "Tilbud 2025.pdf", ContentType: "application/pdf", Size: 4}},
		},
		{
			name:   "related inline image",
			header: "Content-Type: multipart/related; boundary=r\n",
			body: "--r\nContent-Type: text/html\n\n<p>Logo: <img src=\"cid:logo\"></p>\n" +
				"--r\nContent-Type: image/png\nContent-ID: <logo>\nContent-Disposition: inline\n\nPNG\n--r--\n",
			text: "Logo:",
			atts: []Attachment{{ContentType: "image/png", Size: 3}},
		},
		{
			name:   "lf line endings and preamble",
			header: "Content-Type: multipart/mixed; boundary=\"=_x\"\n",
			body:   "This is a multi-part message.\n--=_x\nContent-Type: text/plain\n\nHej\n--=_x--\nepilogue\n",
			text:   "Hej",
		},
		{
			name:   "empty multipart",
			header: "Content-Type: multipart/mixed; boundary=b\n",
			body:   "--b--\n",
		},
		{
			name:   "top-level attachment",
			header: "Content-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''K%C3%B8b.pdf\nContent-Transfer-Encoding: base64\n",
			body:   "JVBERi0=\n",
			atts:   []Attachment{{Filename: "Køb.pdf", ContentType: "application/pdf", Size: 5}},
		},
	}
	for _, tt := range tests {
		raw := strings.ReplaceAll(msg(tt.header, tt.body), "\r\n", "\n")
		if !strings.Contains(tt.name, "lf line endings") {
			raw = strings.ReplaceAll(raw, "\n", "\r\n")
		}
		m, err := Parse(strings.NewReader(raw))
		if err != nil {
			t.Fatalf("Parse(%s) = %v; want nil", tt.name, err)
		}
		if m.Text != tt.text {
			t.Errorf("Parse(%s) = Text %q; want %q", tt.name, m.Text, tt.text)
		}
		if len(m.Attachments)+len(tt.atts) > 0 && !reflect.DeepEqual(m.Attachments, tt.atts) {
			t.Errorf("Parse(%s) = Attachments %+v; want %+v", tt.name, m.Attachments, tt.atts)
		}
	}
}

func TestParse_headers(t *testing.T) {
	tests := []struct {
		name, header string
		check        func(*Message) bool
	}{
		{"folded subject", "Subject: =?UTF-8?Q?Tilbud_p=C3=A5?=\n =?UTF-8?Q?_tag?=\n", func(m *Message) bool { return m.Subject == "Tilbud på tag" }},
		{"raw utf-8 subject", "Subject: Tilbud på tag\n", func(m *Message) bool { return m.Subject == "Tilbud på tag" }},
		{"unknown charset subject read", "Subject: =?x-unknown?Q?abc?=\n", func(m *Message) bool { return m.Subject == "abc" }},
		{"bidi override and line break in subject", "Subject: =?UTF-8?Q?Tilbud=E2=80=AE=0D=0Agdut?=\n", func(m *Message) bool { return m.Subject == "Tilbud gdut" }},
		{"group and display names", "To: undisclosed-recipients:;\nCc: \"Hansen, Søren\" <S@Example.DK>, b@EXAMPLE.dk\n",
			func(m *Message) bool {
				return len(m.To) == 0 && reflect.DeepEqual(m.Cc, []string{"S@example.dk", "b@example.dk"})
			}},
		{"unparseable to", "To: Anna <anna@example.dk, bo@example.dk\n", func(m *Message) bool {
			return reflect.DeepEqual(m.To, []string{"anna@example.dk", "bo@example.dk"})
		}},
		{"date with comment", "Date: Tue, 14 Jan 2025 10:00:00 +0100 (CET)\n", func(m *Message) bool { return m.Date.Equal(date("Tue, 14 Jan 2025 10:00:00 +0100")) }},
		{"date without weekday", "Date: 14 Jan 2025 10:00:00 +0100\n", func(m *Message) bool { return m.Date.Equal(date("Tue, 14 Jan 2025 10:00:00 +0100")) }},
		{"bad date", "Date: sometime soon\n", func(m *Message) bool { return m.Date.IsZero() }},
		{"message-id with comment", "Message-ID: <abc@x>  (added by relay)\n", func(m *Message) bool { return m.MessageID == "abc@x" }},
		{"from without angle brackets", "From: anna@Example.DK (Anna)\n", func(m *Message) bool {
			return m.FromAddress == "anna@example.dk" && m.FromName == "Anna"
		}},
		{"mbox line", "", func(m *Message) bool { return m.Subject == "Hej" }},
	}
	for _, tt := range tests {
		raw := msg("", "Hej\n")
		if tt.name == "mbox line" {
			raw = "From anna@example.dk Tue Jan 14 10:00:00 2025\r\n" + raw
		}
		// A field given here comes first and so is the topmost, which is the one Parse takes.
		raw = strings.ReplaceAll(tt.header, "\n", "\r\n") + raw
		m, err := Parse(strings.NewReader(raw))
		if err != nil {
			t.Fatalf("Parse(%s) = %v; want nil", tt.name, err)
		}
		if !tt.check(m) {
			t.Errorf("Parse(%s) = %+v; want the %s handled", tt.name, m, tt.name)
		}
	}
}

func TestParse_malformed(t *testing.T) {
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i*131 + i/7)
	}
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"blank line only", []byte("\r\n\r\nHello")},
		{"binary junk", junk},
		{"not a header", []byte("Hello there,\r\n\r\nthis is just text.\r\n")},
		{"continuation first, not a field", []byte(" folded x\r\nFrom: a@b.dk\r\n\r\nHej\r\n")},
		{"header too large", []byte("Subject: " + strings.Repeat("x", MaxHeaderBytes) + "\r\n\r\nHej")},
	}
	for _, tt := range tests {
		m, err := Parse(bytes.NewReader(tt.raw))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%s) = %v, %v; want %v", tt.name, m, err, ErrMalformed)
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParse_truncated(t *testing.T) {
	// A multipart missing its closing boundary, cut inside a base64 attachment: the text and what there
	// is of the attachment.
	m := mustParseFile(t, "truncated.eml")
	if !m.Truncated {
		t.Errorf("Parse(truncated.eml) = Truncated false; want true")
	}
	if want := "Denne mail mangler sin afsluttende boundary."; m.Text != want {
		t.Errorf("Parse(truncated.eml) = Text %q; want %q", m.Text, want)
	}
	if want := []Attachment{{"offer.pdf", "application/pdf", 114}}; !reflect.DeepEqual(m.Attachments, want) {
		t.Errorf("Parse(truncated.eml) = Attachments %+v; want %+v", m.Attachments, want)
	}

	// Every test mail cut anywhere parses or is ErrMalformed, never panics, always valid UTF-8.
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for cut := 0; cut < len(data); cut += 1 + cut/50 {
			name := fmt.Sprintf("%s[:%d]", filepath.Base(f), cut)
			m, err := Parse(bytes.NewReader(data[:cut]))
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("Parse(%s) = %v; want nil or %v", name, err, ErrMalformed)
				}
				continue
			}
			checkInvariants(t, name, m, int64(cut))
		}
	}
}

// checkInvariants checks what holds for every parsed message.
func checkInvariants(t *testing.T, name string, m *Message, size int64) {
	t.Helper()
	strs := []string{m.MessageID, m.FromName, m.FromAddress, m.ReplyToName, m.ReplyToAddress, m.Subject, m.Text,
		m.Phone, m.SpamVerdict, m.VirusVerdict}
	strs = append(append(strs, m.To...), m.Cc...)
	for _, a := range m.Attachments {
		strs = append(strs, a.Filename, a.ContentType)
		if a.Size < 0 {
			t.Errorf("Parse(%s) = attachment size %d; want >= 0", name, a.Size)
		}
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Errorf("Parse(%s) = %q; want valid UTF-8", name, s)
		}
	}
	if strings.Contains(m.Text, "\r") {
		t.Errorf("Parse(%s) = Text with CR; want \\n line endings", name)
	}
	if len(m.Text) > MaxTextBytes {
		t.Errorf("Parse(%s) = Text of %d bytes; want <= %d", name, len(m.Text), MaxTextBytes)
	}
	if len(m.Attachments) > MaxAttachments {
		t.Errorf("Parse(%s) = %d attachments; want <= %d", name, len(m.Attachments), MaxAttachments)
	}
	if m.Size != size {
		t.Errorf("Parse(%s) = Size %d; want %d", name, m.Size, size)
	}
}

func TestParse_tooLarge(t *testing.T) {
	tests := []struct {
		name string
		size int
		want error
	}{
		{"40MB", MaxBytes, nil},
		{"40MB+1", MaxBytes + 1, ErrTooLarge},
		{"41MB", MaxBytes + 1<<20, ErrTooLarge},
	}
	for _, tt := range tests {
		// Generated as it is read: nothing holds the message.
		r, total, _ := attachmentMessage(tt.size)
		if pad := tt.size - total; pad > 0 {
			r = io.MultiReader(r, strings.NewReader(strings.Repeat("\n", pad))) // epilogue
		}
		cr := &countingReader{r: r, limit: 1 << 62}
		m, err := Parse(cr)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Parse(%s) = %v; want %v", tt.name, err, tt.want)
		}
		if tt.want == nil {
			if m.Size != int64(tt.size) {
				t.Errorf("Parse(%s) = Size %d; want %d", tt.name, m.Size, tt.size)
			}
			continue
		}
		if cr.n > MaxBytes+1 {
			t.Errorf("Parse(%s) read %d bytes; want at most %d", tt.name, cr.n, MaxBytes+1)
		}
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestParse_readError(t *testing.T) {
	boom := errors.New("connection reset")
	data := readTestdata(t, "attachments.eml")
	for _, cut := range []int{0, 100, 3000, len(data) - 10} {
		_, err := Parse(&failingReader{data: data[:cut], err: boom})
		if !errors.Is(err, boom) || errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(attachments.eml[:%d] then error) = %v; want %v", cut, err, boom)
		}
	}
}

func TestParse_errorsArePrivate(t *testing.T) {
	secrets := []string{"hemmelig@privat.example", "Fortroligt emne", "Min adresse er Vestergade 12"}
	inputs := []string{
		"Min adresse er Vestergade 12\r\nFrom: hemmelig@privat.example\r\nSubject: Fortroligt emne\r\n\r\n",
		"From: hemmelig@privat.example\r\nSubject: Fortroligt emne\r\nX-Pad: " +
			strings.Repeat("Min adresse er Vestergade 12 ", MaxHeaderBytes/20) + "\r\n\r\n",
		"Min adresse er Vestergade 12: hemmelig@privat.example\r\n Fortroligt emne",
	}
	for i, in := range inputs {
		_, err := Parse(strings.NewReader(in))
		if err == nil {
			t.Fatalf("Parse(input %d) = nil; want an error", i)
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Parse(input %d) = %q; want an error without %q", i, err, s)
			}
		}
	}
}

func TestParse_memory(t *testing.T) {
	if testing.Short() {
		t.Skip("parses 40 MB messages")
	}
	attachment := func(size int) func() io.Reader {
		return func() io.Reader { r, _, _ := attachmentMessage(size); return r }
	}
	repeated := func(head, unit, tail string, size int) func() io.Reader {
		n := (size - len(head) - len(tail)) / len(unit)
		return func() io.Reader {
			return io.MultiReader(strings.NewReader(head), &repeatReader{unit: []byte(unit), left: int64(n * len(unit))},
				strings.NewReader(tail))
		}
	}
	tests := []struct {
		name string
		size int
		open func() io.Reader
	}{
		{"1MB attachment", 1 << 20, attachment(1 << 20)},
		{"40MB attachment", MaxBytes, attachment(MaxBytes)},
		{"40MB text/plain", MaxBytes, repeated(msg("Content-Type: text/plain; charset=iso-8859-1\n", ""),
			"Vi \xf8nsker et tilbud p\xe5 levering og montering af nye kontorm\xf8bler.\r\n", "", MaxBytes)},
		{"8MB text/html", 8 << 20, repeated(msg("Content-Type: text/html; charset=utf-8\n", "<html><body>"),
			"<div class=\"x\">Vi ønsker et tilbud på <b>levering</b> &amp; montering.</div>\r\n", "</body></html>", 8<<20)},
		{"8MB part header flood", 8 << 20, repeated(msg("Content-Type: multipart/mixed; boundary=b\n", "--b\r\n"),
			"X: y\r\n", "\r\nbody\r\n--b--\r\n", 8<<20)},
		{"40MB of small attachments", MaxBytes, repeated(msg("Content-Type: multipart/mixed; boundary=b\n", ""),
			"--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=a.png\r\n\r\nPNG\r\n", "--b--\r\n", MaxBytes)},
		{"40MB of tiny forwarded messages", MaxBytes, repeated(msg("Content-Type: multipart/mixed; boundary=b\n", ""),
			"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b.dk\r\nSubject: x\r\n\r\nHej\r\n", "--b--\r\n", MaxBytes)},
		{"40MB forwarded attachment", MaxBytes, func() io.Reader {
			r, _, _ := attachmentMessage(MaxBytes - 1000)
			head := msg("Content-Type: multipart/mixed; boundary=outer\n", "--outer\r\nContent-Type: message/rfc822\r\n\r\n")
			return io.MultiReader(strings.NewReader(head), r, strings.NewReader("\r\n--outer--\r\n"))
		}},
	}
	for _, tt := range tests {
		peak, err := maxPeakHeap(tt.open, 1)
		if err != nil && !(errors.Is(err, ErrMalformed) && strings.Contains(tt.name, "flood")) {
			t.Fatalf("Parse(%s) = %v; want nil", tt.name, err)
		}
		t.Logf("%s: peak heap %d bytes (%.3f× size)", tt.name, peak, float64(peak)/float64(tt.size))
		if peak > 2*uint64(tt.size) {
			t.Errorf("Parse(%s) = peak heap %d bytes; want <= %d (2× size)", tt.name, peak, 2*tt.size)
		}
	}
}
