package charter_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"charter.dev/generated/go/usersapi"
	charter "charter.dev/sdk/go"
)

// flakyGateway is a proxy to the live gateway that answers the first POST of each Idempotency-Key (and every POST
// without one) with a 503 problem, as a gateway does when no users instance answers, and forwards the rest.
type flakyGateway struct {
	mu    sync.Mutex
	posts map[string]int // attempts per Idempotency-Key ("" for none)
}

func startFlakyGateway(t *testing.T) (*flakyGateway, string) {
	t.Helper()
	target, err := url.Parse(live.gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	flaky := &flakyGateway{posts: map[string]int{}}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/users" {
			key := r.Header.Get("Idempotency-Key")
			flaky.mu.Lock()
			flaky.posts[key]++
			first := flaky.posts[key] == 1
			flaky.mu.Unlock()
			if first || key == "" {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"type":"https://charter.dev/problems/unavailable","title":"Service unavailable",` +
					`"status":503,"detail":"the users service is unavailable","code":"UNAVAILABLE"}`))
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(server.Close)
	return flaky, server.URL
}

func (f *flakyGateway) attempts(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts[key]
}

func TestACreateWithAnIdempotencyKeyIsRetriedAfterA503AndAppliedOnce(t *testing.T) {
	ctx := context.Background()
	flaky, url := startFlakyGateway(t)
	sdk, err := charter.New(url, charter.WithTokenSource(tokens()))
	if err != nil {
		t.Fatal(err)
	}
	key := rand.Text()
	mail := email("retried.")
	user, err := sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Retried", Email: usersapi.UserEmail(mail)}, charter.IdempotencyKey(key))
	if err != nil {
		t.Fatalf("the retry after the 503 creates the user: %v", err)
	}
	if flaky.attempts(key) != 2 {
		t.Fatalf("two attempts with the same key, saw %d", flaky.attempts(key))
	}
	// Sent again with the same key and body, the create answers with the user the first one created.
	again, err := sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Retried", Email: usersapi.UserEmail(mail)}, charter.IdempotencyKey(key))
	if err != nil || again.ID != user.ID {
		t.Fatalf("the same key gives the same user: %v %v", again, err)
	}
	direct := newClient(t)
	found, err := direct.LookupUser(ctx, strings.ToUpper(mail))
	if err != nil || found.ID != user.ID {
		t.Fatalf("one user has the email, the one created: %v %v", found, err)
	}
}

func TestACreateWithoutAKeyIsSentOnce(t *testing.T) {
	flaky, url := startFlakyGateway(t)
	sdk, err := charter.New(url, charter.WithTokenSource(tokens()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sdk.CreateUser(context.Background(), charter.CreateUserBody{Name: "Once", Email: usersapi.UserEmail(email("once."))})
	problem(t, err, 503, charter.CodeUnavailable)
	if flaky.attempts("") != 1 {
		t.Fatalf("a create without a key is not sent twice, saw %d", flaky.attempts(""))
	}
}
