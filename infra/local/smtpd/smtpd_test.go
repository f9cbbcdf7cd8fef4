package smtpd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// recorder is a Deliver function that keeps what it was given.
type recorder struct {
	mu       sync.Mutex
	envs     []Envelope
	sessions []Session
	err      error
}

func (r *recorder) deliver(ctx context.Context, env Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, _ := SessionFrom(ctx)
	r.envs = append(r.envs, env)
	r.sessions = append(r.sessions, s)
	return r.err
}

func (r *recorder) got() ([]Envelope, []Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Envelope(nil), r.envs...), append([]Session(nil), r.sessions...)
}

// start runs a server on a free loopback port; its log goes to the returned buffer.
func start(t *testing.T, o Options) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	var mu sync.Mutex
	o.Log = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s, err := Start(o)
	if err != nil {
		t.Fatalf("Start(%+v) = %v", o, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, &logs
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// dial connects a real SMTP client (no STARTTLS, no AUTH) and says EHLO.
func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatalf("smtp.Dial(%q) = %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatalf("Hello = %v", err)
	}
	return c
}

// send runs one transaction and returns the first error with the step it happened in.
func send(c *smtp.Client, from string, to []string, data []byte) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "MAIL", err
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return "RCPT", err
		}
	}
	w, err := c.Data()
	if err != nil {
		return "DATA", err
	}
	if _, err := w.Write(data); err != nil {
		return "DATA", err
	}
	if err := w.Close(); err != nil {
		return "DATA", err
	}
	return "", nil
}

// smtpCode returns the reply code and enhanced code of err, or 0 if err is not an SMTP reply.
func smtpCode(err error) (int, smtp.EnhancedCode) {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code, se.EnhancedCode
	}
	return 0, smtp.EnhancedCode{}
}

// message is a realistic message: 8-bit UTF-8, a dot-stuffed line, a line that is only a dot's
// neighbour, CRLF line ends throughout.
var message = []byte("From: Jens Hansen <jens@example.dk>\r\n" +
	"To: demo-contact@in.localhost\r\n" +
	"Subject: =?UTF-8?Q?Foresp=C3=B8rgsel?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=\"UTF-8\"\r\n" +
	"Content-Transfer-Encoding: 8bit\r\n" +
	"\r\n" +
	"Hej, blåbærgrød og søde hilsner.\r\n" +
	".a line that starts with a dot\r\n" +
	"..two dots\r\n" +
	"\r\n" +
	"-- \r\n" +
	"Jens Hansen\r\n")

func TestServer_deliversByteForByte(t *testing.T) {
	rec := &recorder{}
	s, logs := start(t, Options{Deliver: rec.deliver})
	c := dial(t, s.Addr())
	if step, err := send(c, "jens@example.dk", []string{"demo-contact@in.localhost"}, message); err != nil {
		t.Fatalf("send: %s = %v; want nil", step, err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit = %v", err)
	}
	envs, sessions := rec.got()
	if len(envs) != 1 {
		t.Fatalf("Deliver calls = %d; want 1", len(envs))
	}
	want := Envelope{From: "jens@example.dk", To: []string{"demo-contact@in.localhost"}, Data: message}
	if !reflect.DeepEqual(envs[0], want) {
		t.Errorf("Deliver(%q) envelope = %+v; want %+v", message, envs[0], want)
	}
	if !bytes.Equal(envs[0].Data, message) {
		t.Errorf("Data = %q; want %q", envs[0].Data, message)
	}
	ses := sessions[0]
	if ses.ID == "" || ses.Hostname != "client.test" {
		t.Errorf("SessionFrom(ctx) = %+v; want an id and Hostname %q", ses, "client.test")
	}
	if tcp, ok := ses.RemoteAddr.(*net.TCPAddr); !ok || !tcp.IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("SessionFrom(ctx).RemoteAddr = %v; want 127.0.0.1:*", ses.RemoteAddr)
	}

	// The log has ids, counts and sizes, never addresses or content.
	log := logs.String()
	for _, secret := range []string{"@", "jens", "Jens", "example.dk", "demo-contact", "blåbær"} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "bytes="+strconv.Itoa(len(message))) || !strings.Contains(log, "recipients=1") {
		t.Errorf("log = %s; want the message's size and recipient count", log)
	}
}

func TestServer_recipientDomain(t *testing.T) {
	tests := []struct {
		rcpt     string
		wantCode int // 0: accepted
	}{
		{"demo-contact@in.localhost", 0},
		{"Demo-Contact@IN.LOCALHOST", 0},
		{"someone@example.com", 550},
		{"someone@sub.in.localhost", 550},
		{"someone@in.localhost.example", 550},
		{"someone@localhost", 550},
	}
	for _, tt := range tests {
		t.Run(tt.rcpt, func(t *testing.T) {
			rec := &recorder{}
			s, logs := start(t, Options{Deliver: rec.deliver})
			c := dial(t, s.Addr())
			if err := c.Mail("jens@example.dk", nil); err != nil {
				t.Fatalf("Mail = %v", err)
			}
			err := c.Rcpt(tt.rcpt, nil)
			code, ec := smtpCode(err)
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("Rcpt(%q) = %v; want nil", tt.rcpt, err)
				}
				return
			}
			if code != tt.wantCode || ec != (smtp.EnhancedCode{5, 1, 1}) {
				t.Fatalf("Rcpt(%q) = %v; want %d 5.1.1", tt.rcpt, err, tt.wantCode)
			}
			if msg := err.Error(); !strings.Contains(msg, "@in.localhost") {
				t.Errorf("Rcpt(%q) = %q; want the accepted domain named", tt.rcpt, msg)
			}
			if strings.Contains(logs.String(), tt.rcpt) {
				t.Errorf("log names the rejected address %q:\n%s", tt.rcpt, logs)
			}
			// The transaction goes on without the rejected recipient: with none, DATA is refused.
			if _, err := c.Data(); err == nil {
				t.Errorf("Data() after rejected Rcpt(%q) = nil; want an error", tt.rcpt)
			}
			if envs, _ := rec.got(); len(envs) != 0 {
				t.Errorf("Deliver calls = %d; want 0", len(envs))
			}
		})
	}
}

func TestServer_customDomain(t *testing.T) {
	rec := &recorder{}
	s, _ := start(t, Options{Deliver: rec.deliver, Domain: "In.Example.TEST."})
	c := dial(t, s.Addr())
	if step, err := send(c, "", []string{"leads@in.example.test"}, message); err != nil {
		t.Fatalf("send to custom domain: %s = %v; want nil", step, err)
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatalf("Mail = %v", err)
	}
	if code, _ := smtpCode(c.Rcpt("x@in.localhost", nil)); code != 550 {
		t.Errorf("Rcpt(%q) with Domain %q = %d; want 550", "x@in.localhost", "in.example.test", code)
	}
	envs, _ := rec.got()
	if len(envs) != 1 || envs[0].From != "" {
		t.Fatalf("Deliver envelopes = %+v; want one with the null sender", envs)
	}
}

func TestServer_oversize(t *testing.T) {
	const max = 1024
	big := append(bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n"), 64), "\r\n"...)

	t.Run("data", func(t *testing.T) {
		rec := &recorder{}
		s, _ := start(t, Options{Deliver: rec.deliver, MaxBytes: max})
		c := dial(t, s.Addr())
		step, err := send(c, "jens@example.dk", []string{"demo-contact@in.localhost"}, big)
		if code, ec := smtpCode(err); step != "DATA" || code != 552 || ec != (smtp.EnhancedCode{5, 3, 4}) {
			t.Fatalf("send(%d bytes) = %s %v; want DATA 552 5.3.4", len(big), step, err)
		}
		if envs, _ := rec.got(); len(envs) != 0 {
			t.Errorf("Deliver calls = %d; want 0", len(envs))
		}
		// The session survives: a small message still goes through.
		if step, err := send(c, "jens@example.dk", []string{"demo-contact@in.localhost"}, message[:200]); err != nil {
			t.Fatalf("send after oversize: %s = %v; want nil", step, err)
		}
	})

	t.Run("size parameter", func(t *testing.T) {
		rec := &recorder{}
		s, _ := start(t, Options{Deliver: rec.deliver, MaxBytes: max})
		c := dial(t, s.Addr())
		if ok, param := c.Extension("SIZE"); !ok || param != strconv.Itoa(max) {
			t.Errorf("Extension(%q) = %v, %q; want true, %q", "SIZE", ok, param, strconv.Itoa(max))
		}
		err := c.Mail("jens@example.dk", &smtp.MailOptions{Size: 2 * max})
		if code, ec := smtpCode(err); code != 552 || ec != (smtp.EnhancedCode{5, 3, 4}) {
			t.Fatalf("Mail(SIZE=%d) = %v; want 552 5.3.4", 2*max, err)
		}
	})
}

func TestServer_deliverError(t *testing.T) {
	rec := &recorder{err: errors.New("s3 down")}
	s, logs := start(t, Options{Deliver: rec.deliver})
	c := dial(t, s.Addr())
	step, err := send(c, "jens@example.dk", []string{"demo-contact@in.localhost"}, message)
	code, ec := smtpCode(err)
	if step != "DATA" || code != 451 || ec != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("send with failing Deliver = %s %v; want DATA 451 4.3.0", step, err)
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) && !se.Temporary() {
		t.Errorf("Temporary() = false; want true")
	}
	if !strings.Contains(logs.String(), "s3 down") {
		t.Errorf("log = %s; want the Deliver error", logs)
	}
	// The client may retry on the same connection.
	rec.mu.Lock()
	rec.err = nil
	rec.mu.Unlock()
	if step, err := send(c, "jens@example.dk", []string{"demo-contact@in.localhost"}, message); err != nil {
		t.Fatalf("retry: %s = %v; want nil", step, err)
	}
	if envs, _ := rec.got(); len(envs) != 2 {
		t.Errorf("Deliver calls = %d; want 2", len(envs))
	}
}

func TestServer_severalRecipients(t *testing.T) {
	rec := &recorder{}
	s, _ := start(t, Options{Deliver: rec.deliver})
	c := dial(t, s.Addr())
	to := []string{"demo-contact@in.localhost", "sales@in.localhost", "support@in.localhost"}
	if err := c.Mail("jens@example.dk", nil); err != nil {
		t.Fatalf("Mail = %v", err)
	}
	for _, rcpt := range append(to[:1:1], "someone@example.com") {
		_ = c.Rcpt(rcpt, nil) // the second is rejected and must not end up in the envelope
	}
	for _, rcpt := range to[1:] {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Fatalf("Rcpt(%q) = %v", rcpt, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatalf("Data() = %v", err)
	}
	if _, err := w.Write(message); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	envs, _ := rec.got()
	if len(envs) != 1 {
		t.Fatalf("Deliver calls = %d; want 1 for one transaction", len(envs))
	}
	if !reflect.DeepEqual(envs[0].To, to) {
		t.Errorf("Envelope.To = %q; want %q", envs[0].To, to)
	}

	// A second transaction on the same connection starts with no recipients.
	if step, err := send(c, "jens@example.dk", to[:1], message); err != nil {
		t.Fatalf("second send: %s = %v", step, err)
	}
	if envs, _ := rec.got(); len(envs) != 2 || !reflect.DeepEqual(envs[1].To, to[:1]) {
		t.Errorf("second Envelope.To = %v; want %q", envs[len(envs)-1].To, to[:1])
	}
}

func TestServer_extensions(t *testing.T) {
	s, _ := start(t, Options{Deliver: (&recorder{}).deliver})
	c := dial(t, s.Addr())
	tests := []struct {
		ext  string
		want bool
	}{
		{"SIZE", true},
		{"8BITMIME", true},
		{"SMTPUTF8", true},
		{"PIPELINING", true},
		{"AUTH", false},
		{"STARTTLS", false},
	}
	for _, tt := range tests {
		if got, _ := c.Extension(tt.ext); got != tt.want {
			t.Errorf("Extension(%q) = %v; want %v", tt.ext, got, tt.want)
		}
	}
	if size, ok := c.MaxMessageSize(); !ok || size != DefaultMaxBytes {
		t.Errorf("MaxMessageSize() = %v, %d; want true, %d", ok, size, DefaultMaxBytes)
	}
}

func TestServer_utf8Addresses(t *testing.T) {
	rec := &recorder{}
	s, _ := start(t, Options{Deliver: rec.deliver})
	c := dial(t, s.Addr())
	if err := c.SendMail("søren@eksempel.dk", []string{"kontakt-æøå@in.localhost"}, bytes.NewReader(message)); err != nil {
		t.Fatalf("SendMail with SMTPUTF8 addresses = %v; want nil", err)
	}
	envs, _ := rec.got()
	if len(envs) != 1 || envs[0].From != "søren@eksempel.dk" || envs[0].To[0] != "kontakt-æøå@in.localhost" {
		t.Errorf("envelopes = %+v; want the UTF-8 addresses", envs)
	}
}

func TestServer_close(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	var ctxErr error
	deliver := func(ctx context.Context, env Envelope) error {
		close(started)
		select {
		case <-ctx.Done():
			ctxErr = ctx.Err()
		case <-release:
		}
		return nil
	}
	s, _ := start(t, Options{Deliver: deliver})
	addr := s.Addr()
	c := dial(t, addr)
	go func() { _, _ = send(c, "jens@example.dk", []string{"demo-contact@in.localhost"}, message) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("Deliver was not called")
	}

	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close() = %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Close() did not return while a Deliver was running")
	}
	if !errors.Is(ctxErr, context.Canceled) {
		t.Errorf("Deliver's ctx.Err() after Close = %v; want %v", ctxErr, context.Canceled)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("net.Dial(%q) after Close = nil; want an error", addr)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}
}

func TestStart_addr(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{"127.0.0.1:0", false},
		{"localhost:0", false},
		{"LOCALHOST:0", false},
		{"0.0.0.0:0", true},
		{":0", true},
		{"[::1]:0", true},
		{"[::]:0", true},
		{"192.0.2.1:25", true},
		{"mail.example.com:25", true},
		{"127.0.0.1", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			s, err := Start(Options{Addr: tt.addr, Deliver: (&recorder{}).deliver, Log: slog.New(slog.DiscardHandler)})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Start(Addr: %q) = %v; want error %v", tt.addr, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer s.Close()
			if host, _, _ := net.SplitHostPort(s.Addr()); host != "127.0.0.1" {
				t.Errorf("Start(Addr: %q).Addr() = %q; want 127.0.0.1:*", tt.addr, s.Addr())
			}
		})
	}
}

func TestStart_defaults(t *testing.T) {
	if _, err := Start(Options{Addr: "127.0.0.1:0"}); err == nil {
		t.Errorf("Start without Deliver = nil; want an error")
	}
	if got, err := loopbackAddr(DefaultAddr); err != nil || got != "127.0.0.1:2525" {
		t.Errorf("loopbackAddr(%q) = %q, %v; want %q, nil", DefaultAddr, got, err, "127.0.0.1:2525")
	}
}
