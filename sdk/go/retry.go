package charter

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how often and how long a Client retries a request that is safe to send twice: GET, HEAD and
// OPTIONS always; PUT, PATCH and DELETE only with If-Match (a second apply fails the precondition instead of
// applying twice); POST only with an Idempotency-Key (the gateway answers a retry with the first result). Only a
// 502, 503, 504 or a network error is retried: a 500 or a 4xx is an answer.
//
// Between attempts it waits an exponential backoff with full jitter (a random delay between 0 and
// min(MaxDelay, BaseDelay × 2^attempt)), or the gateway's Retry-After when it is no longer than MaxDelay (a longer
// one is returned to the caller, who knows whether it can wait that long). The request's context ends the wait.
type RetryPolicy struct {
	// Attempts in all, the first one included (3 when zero; 1 sends every request once).
	Attempts int
	// BaseDelay is the backoff's base (50 ms when zero).
	BaseDelay time.Duration
	// MaxDelay is the longest wait between two attempts, backoff or Retry-After (1 s when zero).
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 3
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 50 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = time.Second
	}
	return p
}

// Retryable reports whether sending req a second time cannot apply it twice.
func Retryable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return req.Header.Get("If-Match") != ""
	case http.MethodPost:
		return req.Header.Get("Idempotency-Key") != ""
	}
	return false
}

type retryingTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
}

func (t *retryingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.policy.Attempts <= 1 || !Retryable(req) {
		return t.next.RoundTrip(req)
	}
	// The body is read once and sent again from memory on each attempt.
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	for attempt := 1; ; attempt++ {
		sent := req.Clone(req.Context())
		if body != nil {
			sent.Body = io.NopCloser(bytes.NewReader(body))
			sent.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		last := attempt >= t.policy.Attempts
		resp, err := t.next.RoundTrip(sent)
		var wait time.Duration
		switch {
		case err != nil:
			if last || req.Context().Err() != nil {
				return nil, err
			}
			wait = t.backoff(attempt)
		case last || !retriedStatus(resp.StatusCode):
			return resp, nil
		default:
			asked, ok := retryAfter(resp)
			if ok && asked > t.policy.MaxDelay {
				return resp, nil
			}
			wait = asked
			if !ok {
				wait = t.backoff(attempt)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

func (t *retryingTransport) backoff(attempt int) time.Duration {
	ceiling := min(t.policy.MaxDelay, t.policy.BaseDelay<<attempt)
	return rand.N(ceiling + 1)
}

func retriedStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout
}

// retryAfter is the Retry-After of resp (delay-seconds or an HTTP date), if it has a readable one.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	value := resp.Header.Get("Retry-After")
	if value == "" {
		return 0, false
	}
	if seconds, err := strconv.Atoi(value); err == nil && seconds >= 0 {
		return time.Duration(seconds) * time.Second, true
	}
	if date, err := http.ParseTime(value); err == nil {
		return max(0, time.Until(date)), true
	}
	return 0, false
}

func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// headerTransport adds the client's headers to every request (a request's own header wins).
type headerTransport struct {
	next    http.RoundTripper
	headers http.Header
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(t.headers) == 0 {
		return t.next.RoundTrip(req)
	}
	req = req.Clone(req.Context())
	for name, values := range t.headers {
		if req.Header.Get(name) == "" {
			req.Header[http.CanonicalHeaderKey(name)] = values
		}
	}
	return t.next.RoundTrip(req)
}
