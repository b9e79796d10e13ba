package charter

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"charter.dev/generated/go/usersapi"
)

// ErrorCode is the problem's code, named after the gRPC status codes (NOT_FOUND, ABORTED…).
type ErrorCode = usersapi.ErrorCode

// FieldError names one invalid field of a request (a JSON pointer such as "/email") and what is wrong with it.
type FieldError = usersapi.FieldError

// ProblemError is an error answer of the gateway: the contract's problem document (RFC 9457).
type ProblemError struct {
	// Status is the HTTP status (400, 404, 412…).
	Status int
	// Code is the contract's error code.
	Code ErrorCode
	// Type is the URI reference that names the problem type; Title summarises it.
	Type, Title string
	// Detail says what went wrong with this request ("" when the gateway gave none).
	Detail string
	// Fields lists the invalid fields of a 400 (INVALID_ARGUMENT).
	Fields []FieldError
	// Problem is the document as decoded.
	Problem usersapi.Problem
}

func (e *ProblemError) Error() string {
	detail := e.Detail
	if detail == "" {
		detail = e.Title
	}
	return fmt.Sprintf("charter: %d %s: %s", e.Status, e.Code, detail)
}

// Is reports whether target is a *ProblemError with the same Code (and, if target sets it, the same Status), so
// errors.Is(err, &charter.ProblemError{Code: charter.CodeNotFound}) tests for a kind of problem.
func (e *ProblemError) Is(target error) bool {
	t, ok := target.(*ProblemError)
	if !ok {
		return false
	}
	return t.Code == e.Code && (t.Status == 0 || t.Status == e.Status)
}

// The codes a caller most often tests for.
const (
	CodeInvalidArgument    = usersapi.ErrorCodeINVALIDARGUMENT
	CodeNotFound           = usersapi.ErrorCodeNOTFOUND
	CodeAlreadyExists      = usersapi.ErrorCodeALREADYEXISTS
	CodeAborted            = usersapi.ErrorCodeABORTED
	CodeFailedPrecondition = usersapi.ErrorCodeFAILEDPRECONDITION
	CodeUnauthenticated    = usersapi.ErrorCodeUNAUTHENTICATED
	CodePermissionDenied   = usersapi.ErrorCodePERMISSIONDENIED
	CodeUnavailable        = usersapi.ErrorCodeUNAVAILABLE
	CodeUnknown            = usersapi.ErrorCodeUNKNOWN
)

func newProblemError(p usersapi.Problem) *ProblemError {
	return &ProblemError{
		Status:  p.Status,
		Code:    p.Code,
		Type:    p.Type,
		Title:   p.Title,
		Detail:  p.Detail.Or(""),
		Fields:  p.Errors,
		Problem: p,
	}
}

var problemType = reflect.TypeOf(usersapi.Problem{})

// problemOf is the problem an ogen response value carries, if it is an error answer: ogen gives each operation's
// error responses their own types, each either a Problem under another name (type GetUserNotFound Problem) or a
// struct of headers with the Problem as its Response.
func problemOf(res any) (*ProblemError, bool) {
	if withHeaders, ok := res.(interface{ GetResponse() usersapi.Problem }); ok {
		return newProblemError(withHeaders.GetResponse()), true
	}
	v := reflect.ValueOf(res)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct && v.Type() != problemType && v.Type().ConvertibleTo(problemType) {
		return newProblemError(v.Convert(problemType).Interface().(usersapi.Problem)), true
	}
	return nil, false
}

// unexpectedProblem is the problem of an answer the contract does not declare (say, from a proxy in between): an
// about:blank problem (RFC 9457 §4.2.1) with the status and code UNKNOWN. ogen has read and closed its body by then.
func unexpectedProblem(status int) *ProblemError {
	title := http.StatusText(status)
	if title == "" {
		title = fmt.Sprintf("HTTP %d", status)
	}
	return newProblemError(usersapi.Problem{Type: "about:blank", Title: title, Status: status, Code: CodeUnknown})
}

// problemTransport makes every error answer a problem document, as the contract says they all are: one whose body
// is not (a proxy's HTML page, a plain-text 503) is handed on as an about:blank problem (RFC 9457 §4.2.1) with the
// status, code UNKNOWN and the start of the body as its detail, so the caller gets a *ProblemError for it rather
// than a decoding error.
type problemTransport struct{ next http.RoundTripper }

func (t *problemTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode < 400 {
		return resp, err
	}
	if mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mediaType == "application/problem+json" {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2000))
	_ = resp.Body.Close()
	problem := unexpectedProblem(resp.StatusCode).Problem
	if text := strings.TrimSpace(string(body)); text != "" {
		problem.Detail = usersapi.NewOptString(text)
	}
	encoded, err := problem.MarshalJSON()
	if err != nil {
		return nil, err
	}
	resp.Header.Set("Content-Type", "application/problem+json")
	resp.Header.Del("Content-Length")
	resp.ContentLength = int64(len(encoded))
	resp.Body = io.NopCloser(bytes.NewReader(encoded))
	return resp, nil
}
