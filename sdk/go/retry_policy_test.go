package charter_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	charter "charter.dev/sdk/go"
)

// unavailable is a server that answers every request with a 503 problem and this Retry-After, counting the
// requests per method.
func unavailable(t *testing.T, retryAfter string) (*charter.Client, func(method string) int) {
	t.Helper()
	var mu sync.Mutex
	seen := map[string]int{}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method]++
		mu.Unlock()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"type":"https://charter.dev/problems/unavailable","title":"Service unavailable",` +
			`"status":503,"detail":"the users service is unavailable","code":"UNAVAILABLE"}`))
	}))
	t.Cleanup(server.Close)
	client, err := charter.New(server.URL, charter.WithTokenSource(charter.StaticToken("t")))
	if err != nil {
		t.Fatal(err)
	}
	return client, func(method string) int {
		mu.Lock()
		defer mu.Unlock()
		return seen[method]
	}
}

func TestRetriesAreForWhatIsSafeToSendTwice(t *testing.T) {
	ctx := context.Background()
	client, count := unavailable(t, "0")

	_, err := client.GetUser(ctx, "1")
	problem(t, err, 503, charter.CodeUnavailable)
	if count(http.MethodGet) != 3 {
		t.Fatalf("a GET is sent three times in all, was %d", count(http.MethodGet))
	}

	_, err = client.UpdateUser(ctx, "1", charter.UpdateUserBody{Name: name("x")})
	problem(t, err, 503, charter.CodeUnavailable)
	if count(http.MethodPatch) != 1 {
		t.Fatalf("a change without If-Match is sent once, was %d", count(http.MethodPatch))
	}
	_, err = client.UpdateUser(ctx, "1", charter.UpdateUserBody{Name: name("x")}, charter.IfMatch("3"))
	problem(t, err, 503, charter.CodeUnavailable)
	if count(http.MethodPatch) != 1+3 {
		t.Fatalf("a change with If-Match is retried, sent %d in all", count(http.MethodPatch)-1)
	}

	problem(t, client.DeleteUser(ctx, "1"), 503, charter.CodeUnavailable)
	if count(http.MethodDelete) != 1 {
		t.Fatalf("a delete without If-Match is sent once, was %d", count(http.MethodDelete))
	}

	_, err = client.LookupUser(ctx, "ada@example.com")
	problem(t, err, 503, charter.CodeUnavailable)
	if count(http.MethodPost) != 1 {
		t.Fatalf("a lookup is a POST without a key: sent once, was %d", count(http.MethodPost))
	}
}

func TestARetryAfterLongerThanTheLongestWaitIsReturnedAtOnce(t *testing.T) {
	client, count := unavailable(t, "30")
	_, err := client.GetUser(context.Background(), "1")
	if p := problem(t, err, 503, charter.CodeUnavailable); p.Detail == "" {
		t.Fatal("the gateway's problem is returned as it is")
	}
	if count(http.MethodGet) != 1 {
		t.Fatalf("a Retry-After of 30 s is past the 1 s the client waits: sent once, was %d", count(http.MethodGet))
	}
}
