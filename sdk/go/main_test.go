package charter_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	charter "charter.dev/sdk/go"
	"golang.org/x/oauth2"
)

// The live platform these tests run against, from the environment that test/sdk-go.test.ts sets.
var live struct {
	gatewayURL, usersGRPCAddr string
	credentials               charter.ClientCredentialsConfig
}

const howToRun = `these tests run against a live gateway and users service; run them with
  npm test -- test/sdk-go.test.ts
which starts the platform and its development issuer on free ports, then runs go test with
CHARTER_GATEWAY_URL, CHARTER_USERS_GRPC_ADDR, CHARTER_TOKEN_URL, CHARTER_CLIENT_ID, CHARTER_CLIENT_SECRET,
CHARTER_SCOPES and CHARTER_AUDIENCE set (or set them yourself for a platform you run)`

func TestMain(m *testing.M) {
	required := []string{
		"CHARTER_GATEWAY_URL", "CHARTER_USERS_GRPC_ADDR", "CHARTER_TOKEN_URL", "CHARTER_CLIENT_ID", "CHARTER_CLIENT_SECRET",
	}
	var missing []string
	for _, name := range required {
		if os.Getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %s not set: %s\n", strings.Join(missing, ", "), howToRun)
		os.Exit(2)
	}
	live.gatewayURL = os.Getenv("CHARTER_GATEWAY_URL")
	live.usersGRPCAddr = os.Getenv("CHARTER_USERS_GRPC_ADDR")
	live.credentials = charter.ClientCredentialsConfig{
		TokenURL:     os.Getenv("CHARTER_TOKEN_URL"),
		ClientID:     os.Getenv("CHARTER_CLIENT_ID"),
		ClientSecret: os.Getenv("CHARTER_CLIENT_SECRET"),
		Scopes:       strings.Fields(os.Getenv("CHARTER_SCOPES")),
		Audience:     os.Getenv("CHARTER_AUDIENCE"),
	}
	os.Exit(m.Run())
}

func tokens() oauth2.TokenSource {
	return charter.ClientCredentials(context.Background(), live.credentials)
}

func newClient(t *testing.T, opts ...charter.Option) *charter.Client {
	t.Helper()
	client, err := charter.New(live.gatewayURL, append([]charter.Option{charter.WithTokenSource(tokens())}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return client
}
