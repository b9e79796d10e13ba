package charter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	charter "charter.dev/sdk/go"
)

// A proxy between the client and the gateway can answer with a body that is no problem document; the caller still
// gets a *ProblemError: about:blank, the status, code UNKNOWN.
func TestAnAnswerThatIsNoProblemDocumentIsAnAboutBlankProblem(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/users/1": // a status the operation declares, with a plain-text body
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("upstream is down"))
		default: // a status the operation does not declare, with an HTML page
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte("<html>bad gateway</html>"))
		}
	}))
	t.Cleanup(proxy.Close)
	sdk, err := charter.New(proxy.URL, charter.WithTokenSource(charter.StaticToken("t")),
		charter.WithRetry(charter.RetryPolicy{Attempts: 1}))
	if err != nil {
		t.Fatal(err)
	}

	_, err = sdk.GetUser(context.Background(), "1")
	plain := problem(t, err, 503, charter.CodeUnknown)
	if plain.Type != "about:blank" || plain.Detail != "upstream is down" {
		t.Fatalf("about:blank with the body as its detail: %+v", plain)
	}
	_, err = sdk.GetUser(context.Background(), "2")
	if undeclared := problem(t, err, 502, charter.CodeUnknown); undeclared.Type != "about:blank" {
		t.Fatalf("an undeclared status is an about:blank problem: %+v", undeclared)
	}
}
