package mailparse

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// sesHeader is the header block SES and Gmail give a message, as in testdata.
const sesHeader = "Return-Path: <jonas.friis@gmail.com>\r\n" +
	"Received: from mail-ej1-f41.google.com (mail-ej1-f41.google.com [209.85.218.41])\r\n" +
	" by inbound-smtp.eu-west-1.amazonaws.com with SMTP id 8k2lq1d5v0b5j6f3t7n1m0c9e4a2s3d4f5g6h7j8\r\n" +
	" for demo-contact@in.leadvault.example;\r\n" +
	" Tue, 14 Jan 2025 09:12:33 +0000 (UTC)\r\n" +
	"X-SES-Spam-Verdict: PASS\r\n" +
	"X-SES-Virus-Verdict: PASS\r\n" +
	"Received-SPF: pass (spfCheck: domain of gmail.com designates 209.85.218.41 as permitted sender) client-ip=209.85.218.41; envelope-from=jonas.friis@gmail.com; helo=mail-ej1-f41.google.com;\r\n" +
	"Authentication-Results: amazonses.com;\r\n" +
	" spf=pass (spfCheck: domain of gmail.com designates 209.85.218.41 as permitted sender) client-ip=209.85.218.41; envelope-from=jonas.friis@gmail.com; helo=mail-ej1-f41.google.com;\r\n" +
	" dkim=pass header.i=@gmail.com;\r\n" +
	" dmarc=pass header.from=gmail.com;\r\n" +
	"X-SES-RECEIPT: AEFBQUFBQUFBQUFHcjJ5b1VwTEZ0WjN0dGpXc1E3bXRrQ2hZL2tyRjJkT3BPQmdrS2dLQ3JUWGN6N1hoUmFsTm9x\r\n" +
	" d0FnVWtDV0U3S0dHM2ZQc2VzNWpqU0ZyZ3NrTnRrbS9aR0x1K1dWb2V3Wm8xT2l0RFRnPT0=\r\n" +
	"X-SES-DKIM-SIGNATURE: a=rsa-sha256; q=dns/txt; b=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy\r\n" +
	" YmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4; c=relaxed/simple;\r\n" +
	" s=ihchhvubuqgjsxyuhssfvqohv7z3u4hn; d=amazonses.com; t=1736845953; v=1;\r\n" +
	" bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n" +
	" h=From:To:Cc:Bcc:Subject:Date:Message-ID:MIME-Version:Content-Type:X-SES-RECEIPT;\r\n" +
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" +
	"        d=gmail.com; s=20230601; t=1736845952; x=1737450752; darn=in.leadvault.example;\r\n" +
	"        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject\r\n" +
	"         :date:message-id:reply-to;\r\n" +
	"        bh=k2Q0Xg3zq9l8yLhF0nq0oM1cYw0m3Jf3nPz1yqJxk2E=;\r\n" +
	"        b=Tq3H1tWx0yQ9kz3LxS2c8Y4dK1fP0v9eR5uG7bA2nM6jH8lC3sD4xZ1wQ0yT9uV8a1b2c3d4e5f6g7h8i9j0\r\n" +
	"         k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6\r\n" +
	"         a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1v2w3x4y5z6a1b2c3d4e5f6g7h8i9j0k1l2m3n4==\r\n" +
	"X-Google-DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n" +
	"        d=1e100.net; s=20230601; t=1736845952; x=1737450752;\r\n" +
	"        h=to:subject:message-id:date:from:mime-version:x-gm-message-state\r\n" +
	"         :from:to:cc:subject:date:message-id:reply-to;\r\n" +
	"        bh=k2Q0Xg3zq9l8yLhF0nq0oM1cYw0m3Jf3nPz1yqJxk2E=;\r\n" +
	"        b=Xq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4n5m6Xq1w2e3r4t5y6u7i8o9p0a1s2d3f4\r\n" +
	"         g5h6j7k8l9z0x1c2v3b4n5m6Xq1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4n5m6Xq1w2e3r4\r\n" +
	"         t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4n5m6==\r\n" +
	"X-Gm-Message-State: AOJu0YzQ3m1d7vL8s2rF9kT0pX4cW6nB5yH3jG1aE8uR2qS7oI0lKmNv\r\n" +
	"\thS9k4R2pF7tX1wY3zB6cV8nM0qL5jD2gH4aE6sU9oI1rT3yW5xQ7mK8lP0nB2vC4\r\n" +
	"X-Google-Smtp-Source: AGHT+IHk2nL8mQ4pR7sT1vW3xY5zA9bC0dE2fG4hJ6kL8mN0pQ2rS4tU6vW8xY0z\r\n" +
	"X-Received: by 2002:a17:907:7f0e:b0:aab:7a8e:2c3f with SMTP id qf14-20020a1709077f0e00b00aab7a8e2c3fmr1612345ejc.12.1736845952123;\r\n" +
	"        Tue, 14 Jan 2025 03:01:08 -0800 (PST)\r\n" +
	"MIME-Version: 1.0\r\n" +
	"From: Jonas Friis <jonas.friis@gmail.com>\r\n" +
	"Date: Tue, 14 Jan 2025 12:01:09 +0100\r\n" +
	"Message-ID: <CAJ0n4sFr1iS+k2L3m4N5o6P7q8R9s0T1u2V3w4X5y6Z7a8B9c@mail.gmail.com>\r\n" +
	"Subject: Kravspecifikation\r\n" +
	"To: demo-contact@in.leadvault.example\r\n"

// textPart is a small Gmail text/plain part.
const textPart = "Content-Type: text/plain; charset=\"UTF-8\"\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n\r\n" +
	"Hej,\r\n\r\nVedh=C3=A6ftet er vores kravspecifikation.\r\n\r\nMvh\r\nJonas Friis\r\n"

// attachmentMessage returns a reader of a message of at most size bytes: a text part and a base64 PDF
// attachment filling the rest. The content is produced as it is read, never held. decoded is the
// attachment's decoded size.
func attachmentMessage(size int) (r io.Reader, total int, decoded int64) {
	head := sesHeader + "Content-Type: multipart/mixed; boundary=\"000000000000c3d4e5062bb9abcd\"\r\n\r\n" +
		"--000000000000c3d4e5062bb9abcd\r\n" + textPart + "\r\n" +
		"--000000000000c3d4e5062bb9abcd\r\n" +
		"Content-Type: application/pdf; name=\"tilbud.pdf\"\r\n" +
		"Content-Disposition: attachment; filename=\"tilbud.pdf\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n"
	tail := "--000000000000c3d4e5062bb9abcd--\r\n"
	raw := make([]byte, 57) // 57 bytes encode to one 76-character line
	for i := range raw {
		raw[i] = byte(i*37 + 11)
	}
	line := base64.StdEncoding.EncodeToString(raw) + "\r\n"
	n := max((size-len(head)-len(tail))/len(line), 0)
	r = io.MultiReader(strings.NewReader(head), &repeatReader{unit: []byte(line), left: int64(n * len(line))},
		strings.NewReader(tail))
	return r, len(head) + n*len(line) + len(tail), int64(n * len(raw))
}

// textMessage returns a Gmail multipart/alternative message (plain and HTML) of about size bytes, with the
// header block SES and Gmail give it.
func textMessage(size int) []byte {
	var plain, html bytes.Buffer
	for i := 0; plain.Len()+html.Len() < size-len(sesHeader)-500; i++ {
		fmt.Fprintf(&plain, "Afsnit %d: Vi =C3=B8nsker et tilbud p=C3=A5 levering og montering af nye kontorm=\r\n=C3=B8bler.\r\n\r\n", i)
		fmt.Fprintf(&html, "<div>Afsnit %d: Vi =C3=B8nsker et tilbud p=C3=A5 levering og montering af nye =\r\nkontorm=C3=B8bler.</div><div><br></div>\r\n", i)
	}
	return []byte(sesHeader + "Content-Type: multipart/alternative; boundary=\"000000000000a1b2c3062bb7f0e1\"\r\n\r\n" +
		"--000000000000a1b2c3062bb7f0e1\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + plain.String() +
		"--000000000000a1b2c3062bb7f0e1\r\nContent-Type: text/html; charset=\"UTF-8\"\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n<div dir=3D\"ltr\">\r\n" + html.String() + "</div>\r\n" +
		"--000000000000a1b2c3062bb7f0e1--\r\n")
}

// repeatReader yields unit over and over, left bytes in all.
type repeatReader struct {
	unit []byte
	off  int
	left int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.unit[r.off:])
		n += c
		r.off = (r.off + c) % len(r.unit)
	}
	r.left -= int64(n)
	return n, nil
}

// heapAlloc returns runtime.MemStats.HeapAlloc: the bytes of live and not yet freed heap objects, exact
// because ReadMemStats flushes the per-P allocation caches (runtime/metrics counts their spans whole).
func heapAlloc(ms *runtime.MemStats) uint64 {
	runtime.ReadMemStats(ms)
	return ms.HeapAlloc
}

// maxPeakHeap returns the largest peakHeap of runs parses of the message open returns, and the error of
// the last, after one parse
// that warms the buffers sync.Pools keep (io.Discard's, which mime/multipart uses), as in a Lambda
// container that has parsed a message before. It runs with GOMAXPROCS=1, as on a Lambda function of up
// to 1,769 MB (one vCPU): with more Ps, whether the per-P pool has a buffer at hand is chance, and a miss
// costs 8 KiB.
func maxPeakHeap(open func() io.Reader, runs int) (uint64, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	_, err := Parse(open())
	var peak uint64
	for range runs {
		var p uint64
		p, _, err = peakHeap(open())
		peak = max(peak, p)
	}
	return peak, err
}

// peakHeap runs Parse on r and returns the peak heap growth it caused above the heap after a GC, and
// Parse's result. The heap is sampled before every Read Parse makes, by a goroutine every half
// millisecond, and once after Parse returns (with its result still live), so the peak is a close lower
// bound.
func peakHeap(r io.Reader) (uint64, *Message, error) {
	var peak atomic.Uint64
	note := func(ms *runtime.MemStats) {
		h := heapAlloc(ms)
		for {
			p := peak.Load()
			if h <= p || peak.CompareAndSwap(p, h) {
				return
			}
		}
	}
	// Everything the sampling needs is allocated before the baseline.
	sr := &sampledReader{r: r, note: note, ms: new(runtime.MemStats)}
	msTick, msEnd := new(runtime.MemStats), new(runtime.MemStats)
	done := make(chan struct{})
	var wg sync.WaitGroup
	t := time.NewTicker(500 * time.Microsecond)
	defer t.Stop()
	wg.Add(1)
	runtime.GC()
	base := heapAlloc(msEnd)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				note(msTick)
			}
		}
	}()
	m, err := Parse(sr)
	note(msEnd)
	close(done)
	wg.Wait()
	runtime.KeepAlive(m)
	p := peak.Load()
	if p < base {
		return 0, m, err
	}
	return p - base, m, err
}

// sampledReader samples the heap before every Read.
type sampledReader struct {
	r    io.Reader
	note func(*runtime.MemStats)
	ms   *runtime.MemStats
}

func (s *sampledReader) Read(p []byte) (int, error) {
	s.note(s.ms)
	return s.r.Read(p)
}
