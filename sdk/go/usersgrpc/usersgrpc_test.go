package usersgrpc_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"

	usersv1 "charter.dev/generated/go/proto/charter/users/v1"
	charter "charter.dev/sdk/go"
	"charter.dev/sdk/go/usersgrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) {
	if os.Getenv("CHARTER_USERS_GRPC_ADDR") == "" || os.Getenv("CHARTER_TOKEN_URL") == "" {
		fmt.Fprintln(os.Stderr, "FAIL: CHARTER_USERS_GRPC_ADDR and CHARTER_TOKEN_URL not set: these tests call a live users "+
			"service; run them with\n  npm test -- test/sdk-go.test.ts\nwhich starts the platform and sets them")
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func connect(t *testing.T, withToken bool) *usersgrpc.Client {
	t.Helper()
	tokens := charter.ClientCredentials(context.Background(), charter.ClientCredentialsConfig{
		TokenURL:     os.Getenv("CHARTER_TOKEN_URL"),
		ClientID:     os.Getenv("CHARTER_CLIENT_ID"),
		ClientSecret: os.Getenv("CHARTER_CLIENT_SECRET"),
		Scopes:       strings.Fields(os.Getenv("CHARTER_SCOPES")),
		Audience:     os.Getenv("CHARTER_AUDIENCE"),
	})
	if !withToken {
		tokens = nil
	}
	client, err := usersgrpc.New(os.Getenv("CHARTER_USERS_GRPC_ADDR"), tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func TestCreateUserThenGetUser(t *testing.T) {
	ctx := context.Background()
	client := connect(t, true)
	mail := "grpc." + strings.ToLower(rand.Text()[:8]) + "@example.com"
	created, err := client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{Name: "Ada over gRPC", Email: mail}})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	user := created.GetUser()
	if user.GetId() == "" || user.GetName() != "Ada over gRPC" || user.GetEmail() != mail || user.GetEtag() == "" || user.GetCreateTime() == nil {
		t.Fatalf("the created user has its server-assigned fields: %v", user)
	}
	got, err := client.GetUser(ctx, &usersv1.GetUserRequest{Id: user.GetId()})
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !proto.Equal(got.GetUser(), user) {
		t.Fatalf("GetUser gives the user created: %v, created %v", got.GetUser(), user)
	}
}

func TestErrorsCarryTheirGoogleRpcDetails(t *testing.T) {
	ctx := context.Background()
	client := connect(t, true)

	_, err := client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{Name: "Bad", Email: "not-an-email"}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("expected INVALID_ARGUMENT, got %v", err)
	}
	details, ok := usersgrpc.DetailsOf(err)
	if !ok || len(details.FieldViolations) == 0 {
		t.Fatalf("an INVALID_ARGUMENT carries a BadRequest: %v", err)
	}
	var fields []string
	for _, v := range details.FieldViolations {
		fields = append(fields, v.GetField())
		if v.GetDescription() == "" {
			t.Fatalf("each violation says what is wrong: %v", v)
		}
	}
	if strings.Join(fields, " ") != "user.email" {
		t.Fatalf("the violation names the field by its proto path, user.email: %v", fields)
	}

	mail := "grpc.taken." + strings.ToLower(rand.Text()[:8]) + "@example.com"
	if _, err := client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{Name: "First", Email: mail}}); err != nil {
		t.Fatal(err)
	}
	_, err = client.CreateUser(ctx, &usersv1.CreateUserRequest{User: &usersv1.User{Name: "Second", Email: strings.ToUpper(mail)}})
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("expected ALREADY_EXISTS, got %v", err)
	}
	taken, _ := usersgrpc.DetailsOf(err)
	if taken.Info.GetReason() != "EMAIL_TAKEN" || taken.Info.GetDomain() != "users.charter.dev" {
		t.Fatalf("a taken email carries its ErrorInfo (EMAIL_TAKEN, users.charter.dev): %v", taken.Info)
	}

	_, err = client.GetUser(ctx, &usersv1.GetUserRequest{Id: "1"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("expected NOT_FOUND, got %v", err)
	}
	if _, ok := usersgrpc.DetailsOf(fmt.Errorf("wrapped: %w", err)); !ok {
		t.Fatal("DetailsOf finds the status in a wrapped error")
	}
}

func TestACallWithoutATokenIsUnauthenticated(t *testing.T) {
	_, err := connect(t, false).GetUser(context.Background(), &usersv1.GetUserRequest{Id: "1"})
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("expected UNAUTHENTICATED, got %v", err)
	}
}
