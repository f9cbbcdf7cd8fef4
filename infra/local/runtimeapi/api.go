package runtimeapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API headers, as aws-lambda-go's runtime client (lambda/runtime_api_client.go) reads and
// writes them.
const (
	headerRequestID          = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS         = "Lambda-Runtime-Deadline-Ms"
	headerInvokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID            = "Lambda-Runtime-Trace-Id"
	headerErrorType          = "Lambda-Runtime-Function-Error-Type"
	trailerErrorType         = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody         = "Lambda-Runtime-Function-Error-Body"
	headerExtensionName      = "Lambda-Extension-Name"
	headerExtensionID        = "Lambda-Extension-Identifier"
)

func (h *Host) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", h.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", h.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", h.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", h.handleInitError)
	// The Extensions API, only as far as aws-lambda-go's lambda.WithEnableSIGTERM uses it: it registers
	// an internal extension for no events and then waits on /event/next forever.
	mux.HandleFunc("POST /2020-01-01/extension/register", h.handleExtensionRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", h.handleExtensionNext)
	return mux
}

// handleNext blocks until an invocation is queued and hands it to the runtime. The runtime's first
// call ends init.
func (h *Host) handleNext(w http.ResponseWriter, r *http.Request) {
	h.markReady()
	var inv *invocation
	select {
	case inv = <-h.queue:
	case <-r.Context().Done():
		return
	case <-h.closing:
		writeAPIError(w, http.StatusInternalServerError, "Runtime.HostClosed", "the runtime API host is closing")
		return
	}
	h.mu.Lock()
	h.inflight[inv.id] = inv
	h.mu.Unlock()

	hdr := w.Header()
	hdr.Set(headerRequestID, inv.id)
	hdr.Set(headerDeadlineMS, strconv.FormatInt(time.Now().Add(h.timeout).UnixMilli(), 10))
	hdr.Set(headerInvokedFunctionARN, h.arn)
	hdr.Set(headerTraceID, inv.traceID)
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(inv.payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// handleResponse completes an invocation with the function's response. aws-lambda-go streams the
// body and, if producing it fails midway, reports the error in trailers instead.
func (h *Host) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := h.takeInflight(r.PathValue("id"))
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already completed request id "+r.PathValue("id"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	switch {
	case err != nil:
		inv.done <- result{err: fmt.Errorf("read the function's response: %w", err)}
		writeAPIError(w, http.StatusBadRequest, "InvalidResponse", err.Error())
		return
	case len(body) > MaxPayloadBytes:
		inv.done <- result{err: &FunctionError{
			Type:    "Function.ResponseSizeTooLarge",
			Message: fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", MaxPayloadBytes),
		}}
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response payload too large")
		return
	}
	if typ := r.Trailer.Get(trailerErrorType); typ != "" {
		fe := &FunctionError{Type: typ}
		if raw, err := base64.StdEncoding.DecodeString(r.Trailer.Get(trailerErrorBody)); err == nil {
			fe = parseFunctionError(raw, typ)
		}
		inv.done <- result{err: fe}
	} else {
		inv.done <- result{body: body}
	}
	writeAccepted(w)
}

// handleError completes an invocation with the error the function reported.
func (h *Host) handleError(w http.ResponseWriter, r *http.Request) {
	inv := h.takeInflight(r.PathValue("id"))
	if inv == nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already completed request id "+r.PathValue("id"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes))
	if err != nil {
		inv.done <- result{err: fmt.Errorf("read the function's error: %w", err)}
		writeAPIError(w, http.StatusBadRequest, "InvalidErrorBody", err.Error())
		return
	}
	inv.done <- result{err: parseFunctionError(body, r.Header.Get(headerErrorType))}
	writeAccepted(w)
}

// handleInitError records the init error a runtime reports before it exits; Start then fails with it.
func (h *Host) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidErrorBody", err.Error())
		return
	}
	fe := parseFunctionError(body, r.Header.Get(headerErrorType))
	h.mu.Lock()
	if h.initErr == nil {
		h.initErr = fe
	}
	h.mu.Unlock()
	writeAccepted(w)
	h.initFailedOnce.Do(func() { close(h.initFailed) })
}

func (h *Host) handleExtensionRegister(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(headerExtensionName) == "" {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequest", "missing "+headerExtensionName)
		return
	}
	h.mu.Lock()
	h.sigterm = true
	h.mu.Unlock()
	w.Header().Set(headerExtensionID, newRequestID())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"functionName":    h.name,
		"functionVersion": "$LATEST",
		"handler":         "bootstrap",
	})
}

// handleExtensionNext never delivers an event: the only extension served is aws-lambda-go's internal
// one, which subscribes to none.
func (h *Host) handleExtensionNext(_ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-h.exited:
	}
}

func (h *Host) takeInflight(id string) *invocation {
	h.mu.Lock()
	defer h.mu.Unlock()
	inv := h.inflight[id]
	delete(h.inflight, id)
	return inv
}

// parseFunctionError reads the {"errorMessage","errorType"} JSON a runtime posts; anything else
// becomes the message of an error typed by the error-type header, or "Unhandled".
func parseFunctionError(body []byte, headerType string) *FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil || (fe.Type == "" && fe.Message == "") {
		fe = FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return &fe
}

func writeAccepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`+"\n")
}

func writeAPIError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}
