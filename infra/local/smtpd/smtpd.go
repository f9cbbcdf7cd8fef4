// Package smtpd is the local stand-in for the SMTP side of SES email receiving: an MX-like SMTP listener
// on the loopback interface that accepts mail for one domain and hands each accepted message to a
// Deliver function (sesinbound.Receiver.Deliver in the local stack, which stores it in S3 the way SES's
// receipt rule does).
//
// Like an MX it takes no AUTH and needs no TLS. It advertises 8BITMIME, SMTPUTF8, SIZE (and go-smtp's
// PIPELINING, ENHANCEDSTATUSCODES and CHUNKING). Its answers:
//
//   - RCPT TO an address outside Options.Domain: 550 5.1.1;
//   - a message over Options.MaxBytes (SES's 40 MB limit by default), announced with MAIL FROM's SIZE
//     or found while reading DATA: 552 5.3.4;
//   - Deliver failing: 451 4.3.0, a temporary failure the client may retry;
//   - otherwise 250 2.0.0 once Deliver has returned.
//
// It logs session and message ids, counts and sizes, never addresses or content.
//
// Not modelled: STARTTLS, SES's receipt-rule recipient matching beyond one exact domain, IP filters,
// and SES's own rejections (spam, virus, a bounce action).
package smtpd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Defaults for Options.
const (
	DefaultAddr     = "127.0.0.1:2525"
	DefaultDomain   = "in.localhost"
	DefaultMaxBytes = 40 << 20 // SES email receiving's maximum message size, headers included
)

// Session timeouts: generous, as an MX's are (RFC 5321 section 4.5.3.2 asks for minutes).
const (
	readTimeout  = 5 * time.Minute
	writeTimeout = time.Minute
)

// Envelope is one accepted message.
type Envelope struct {
	// From is the MAIL FROM reverse-path without angle brackets; "" for the null sender <>.
	From string
	// To holds the accepted RCPT TO forward-paths, in the order given.
	To []string
	// Data is the message exactly as received after DATA (dot-unstuffed, CRLF line ends kept).
	Data []byte
}

// Options configures Start.
type Options struct {
	// Addr is the listen address, default DefaultAddr. Its host must be 127.0.0.1 or localhost (which
	// binds 127.0.0.1); port 0 picks a free port (see Server.Addr).
	Addr string
	// Domain is the only recipient domain accepted, default DefaultDomain; compared case-insensitively.
	Domain string
	// MaxBytes is the largest message accepted, default DefaultMaxBytes.
	MaxBytes int64
	// Deliver is called once per accepted message, with a context that is cancelled when the server is
	// closed and carries the SMTP session (see SessionFrom). An error answers the client 451 4.3.0.
	Deliver func(ctx context.Context, env Envelope) error
	// Log receives one line per session and message; nil means slog.Default().
	Log *slog.Logger
}

// Session describes the SMTP session a message arrived in; Deliver gets it through SessionFrom.
type Session struct {
	// ID identifies the session in the log.
	ID string
	// Hostname is the client's EHLO/HELO argument.
	Hostname string
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr
}

type sessionKey struct{}

// SessionFrom returns the SMTP session stored in ctx by the server, if any.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}

// WithSession returns a copy of ctx carrying s, for calling a Deliver function outside a server.
func WithSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// Server is a running SMTP listener.
type Server struct {
	srv       *smtp.Server
	ln        net.Listener
	o         Options
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	served    chan struct{}
	delivers  sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Start listens on o.Addr and serves SMTP until Close. It refuses an address that is not on 127.0.0.1
// or localhost, and Options without a Deliver function.
func Start(o Options) (*Server, error) {
	if o.Deliver == nil {
		return nil, errors.New("smtpd: Options.Deliver is nil")
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	addr, err := loopbackAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	if o.Domain == "" {
		o.Domain = DefaultDomain
	}
	o.Domain = strings.TrimSuffix(strings.ToLower(o.Domain), ".")
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtpd: listen on %s: %w", addr, err)
	}
	s := &Server{ln: ln, o: o, log: o.Log, served: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = o.MaxBytes
	srv.EnableSMTPUTF8 = true
	srv.AllowInsecureAuth = false
	srv.ReadTimeout = readTimeout
	srv.WriteTimeout = writeTimeout
	srv.ErrorLog = errorLog{s.log}
	s.srv = srv

	go func() {
		defer close(s.served)
		if err := srv.Serve(ln); err != nil {
			s.log.Error("smtpd: serve", "err", err)
		}
	}()
	s.log.Info("smtpd: listening", "addr", ln.Addr().String(), "max_bytes", o.MaxBytes)
	return s, nil
}

// Addr returns the address the server listens on, e.g. "127.0.0.1:2525".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops listening, closes open sessions, cancels the context of running Deliver calls and waits
// for them to return. Calling it again returns the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		if err := s.srv.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = fmt.Errorf("smtpd: close: %w", err)
		}
		// go-smtp closes only the listeners Serve has registered; Serve may not have got that far.
		if err := s.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) && s.closeErr == nil {
			s.closeErr = fmt.Errorf("smtpd: close listener: %w", err)
		}
		<-s.served
		s.delivers.Wait()
	})
	return s.closeErr
}

// loopbackAddr checks that addr is on 127.0.0.1 or localhost and returns it with localhost replaced
// by 127.0.0.1, so that it never binds [::1] or another interface.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("smtpd: address %q: %w", addr, err)
	}
	switch strings.ToLower(host) {
	case "127.0.0.1", "localhost":
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	return "", fmt.Errorf("smtpd: address %q: only 127.0.0.1 or localhost may be used", addr)
}

// newSession starts the state of one SMTP connection.
func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	s.log.Debug("smtpd: session", "session", id)
	return &session{s: s, info: Session{ID: id, Hostname: c.Hostname(), RemoteAddr: c.Conn().RemoteAddr()}}, nil
}

// session implements smtp.Session for one connection.
type session struct {
	s    *Server
	info Session
	from string
	to   []string
}

// Reset discards the current transaction.
func (se *session) Reset() { se.from, se.to = "", nil }

// Logout ends the session.
func (se *session) Logout() error { return nil }

// Mail starts a transaction. go-smtp has already refused a SIZE over MaxBytes with 552 5.3.4.
func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from, se.to = from, nil
	return nil
}

// Rcpt accepts a recipient in the server's domain.
func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	at := strings.LastIndexByte(to, '@')
	if at < 0 || strings.TrimSuffix(strings.ToLower(to[at+1:]), ".") != se.s.o.Domain {
		se.s.log.Info("smtpd: recipient rejected", "session", se.info.ID, "reason", "domain")
		return &smtp.SMTPError{
			Code:         550,
			EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message:      "Recipient address rejected: this server accepts mail only for @" + se.s.o.Domain,
		}
	}
	se.to = append(se.to, to)
	return nil
}

// Data reads the message and delivers it.
func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		if err == smtp.ErrDataTooLarge { // go-smtp matches the pointer, so it must not be wrapped
			se.s.log.Info("smtpd: message rejected", "session", se.info.ID, "reason", "size", "max_bytes", se.s.o.MaxBytes)
			return smtp.ErrDataTooLarge
		}
		return fmt.Errorf("read message: %w", err)
	}
	env := Envelope{From: se.from, To: append([]string(nil), se.to...), Data: data}

	se.s.delivers.Add(1)
	defer se.s.delivers.Done()
	start := time.Now()
	if err := se.s.o.Deliver(WithSession(se.s.ctx, se.info), env); err != nil {
		se.s.log.Warn("smtpd: delivery failed", "session", se.info.ID, "recipients", len(env.To), "bytes", len(data), "err", err)
		return &smtp.SMTPError{
			Code:         451,
			EnhancedCode: smtp.EnhancedCode{4, 3, 0},
			Message:      "Requested action aborted: local delivery failed, try again later",
		}
	}
	se.s.log.Info("smtpd: message accepted", "session", se.info.ID, "recipients", len(env.To), "bytes", len(data),
		"ms", time.Since(start).Milliseconds())
	return nil
}

// newID returns a random 16-hex-digit id.
func newID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("smtpd: session id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// errorLog sends go-smtp's internal errors to slog. go-smtp includes only the client's IP address and
// the error, never message content.
type errorLog struct{ log *slog.Logger }

// Printf logs one formatted line.
func (l errorLog) Printf(format string, v ...any) {
	l.log.Warn("smtpd: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// Println logs one line.
func (l errorLog) Println(v ...any) {
	l.log.Warn("smtpd: " + strings.TrimSpace(fmt.Sprintln(v...)))
}
