package charter_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"charter.dev/generated/go/usersapi"
	charter "charter.dev/sdk/go"
)

func email(tag string) string {
	return fmt.Sprintf("%s%s@example.com", tag, strings.ToLower(rand.Text()[:8]))
}

// problem is err as a *ProblemError with this status and code, or the test fails.
func problem(t *testing.T, err error, status int, code charter.ErrorCode) *charter.ProblemError {
	t.Helper()
	var p *charter.ProblemError
	if !errors.As(err, &p) {
		t.Fatalf("expected a %d %s problem, got %v", status, code, err)
	}
	if p.Status != status || p.Code != code {
		t.Fatalf("expected a %d %s problem, got %d %s: %s", status, code, p.Status, p.Code, p.Detail)
	}
	if p.Type == "" || p.Title == "" || p.Problem.Status != status {
		t.Fatalf("the problem has a type and a title and repeats the status: %+v", p.Problem)
	}
	return p
}

// must[T](t)(call()) is the value of a call that must succeed.
func must[T any](t *testing.T) func(T, error) T {
	return func(value T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return value
	}
}

func name(value string) usersapi.OptUserName {
	return usersapi.NewOptUserName(usersapi.UserName(value))
}

func TestCreateGetUpdateWithAndWithoutIfMatchDelete(t *testing.T) {
	ctx := context.Background()
	sdk := newClient(t)
	mail := email("ada.")
	var createdTag string
	user := must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Ada Lovelace", Email: usersapi.UserEmail(mail)}, charter.ETag(&createdTag)))
	if !regexp.MustCompile(`^[0-9]{1,19}$`).MatchString(string(user.ID)) || user.Name != "Ada Lovelace" || string(user.Email) != mail {
		t.Fatalf("created user: %+v", user)
	}
	if createdTag != `"`+string(user.Etag)+`"` {
		t.Fatalf("the ETag header %q is the user's etag %q, quoted", createdTag, user.Etag)
	}

	var gotTag string
	got := must[*charter.User](t)(sdk.GetUser(ctx, string(user.ID), charter.ETag(&gotTag)))
	if *got != *user || gotTag != createdTag {
		t.Fatalf("get gave %+v (%s), created %+v (%s)", got, gotTag, user, createdTag)
	}

	var renamedTag string
	renamed := must[*charter.User](t)(sdk.UpdateUser(ctx, string(user.ID), charter.UpdateUserBody{Name: name("Ada King")},
		charter.IfMatch(string(user.Etag)), charter.ETag(&renamedTag)))
	if renamed.Name != "Ada King" || string(renamed.Email) != mail {
		t.Fatalf("a merge patch changes the name and keeps the email: %+v", renamed)
	}
	if renamed.Etag == user.Etag || renamedTag != `"`+string(renamed.Etag)+`"` {
		t.Fatalf("a change gives a new etag: %q then %q (header %q)", user.Etag, renamed.Etag, renamedTag)
	}

	_, err := sdk.UpdateUser(ctx, string(user.ID), charter.UpdateUserBody{Name: name("Lost")}, charter.IfMatch(string(user.Etag)))
	if stale := problem(t, err, 412, charter.CodeAborted); stale.Detail == "" {
		t.Fatal("a 412 says what went wrong")
	}
	if !errors.Is(err, &charter.ProblemError{Code: charter.CodeAborted}) {
		t.Fatal("errors.Is matches a problem by its code")
	}

	var latestTag string
	latest := must[*charter.User](t)(sdk.UpdateUser(ctx, string(user.ID), charter.UpdateUserBody{Name: name("Countess")}, charter.ETag(&latestTag)))
	if latest.Name != "Countess" {
		t.Fatalf("without If-Match the latest version is changed: %+v", latest)
	}

	// An entity tag as the ETag header gives it is accepted as it is.
	problem(t, sdk.DeleteUser(ctx, string(user.ID), charter.IfMatch(renamedTag)), 412, charter.CodeAborted)
	if err := sdk.DeleteUser(ctx, string(user.ID), charter.IfMatch(latestTag)); err != nil {
		t.Fatalf("delete at the latest version: %v", err)
	}

	_, err = sdk.GetUser(ctx, string(user.ID))
	problem(t, err, 404, charter.CodeNotFound)
	_, err = sdk.UpdateUser(ctx, string(user.ID), charter.UpdateUserBody{Name: name("Nobody")})
	problem(t, err, 404, charter.CodeNotFound)
	problem(t, sdk.DeleteUser(ctx, string(user.ID)), 404, charter.CodeNotFound)
}

func TestLookupUserFindsByEmailCaseInsensitively(t *testing.T) {
	ctx := context.Background()
	sdk := newClient(t)
	mail := email("Ada.Lookup.")
	var createdTag, foundTag string
	created := must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Ada Lookup", Email: usersapi.UserEmail(mail)}, charter.ETag(&createdTag)))
	found := must[*charter.User](t)(sdk.LookupUser(ctx, strings.ToUpper(mail), charter.ETag(&foundTag)))
	if *found != *created || foundTag != createdTag {
		t.Fatalf("upper case finds the lower-case address: %+v (%s), created %+v (%s)", found, foundTag, created, createdTag)
	}

	_, err := sdk.LookupUser(ctx, email("nobody."))
	if missing := problem(t, err, 404, charter.CodeNotFound); missing.Detail != "no user has this email" {
		t.Fatalf("detail: %q", missing.Detail)
	}
	for _, bad := range []string{"not-an-email", "ünï@example.com"} {
		_, err := sdk.LookupUser(ctx, bad)
		refused := problem(t, err, 400, charter.CodeInvalidArgument)
		if len(refused.Fields) != 1 || refused.Fields[0].Field != "/email" {
			t.Fatalf("%s: the problem names /email: %+v", bad, refused.Fields)
		}
	}
}

func TestTakenEmailIsAConflict(t *testing.T) {
	ctx := context.Background()
	sdk := newClient(t)
	mail := email("grace.")
	must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Grace Hopper", Email: usersapi.UserEmail(mail)}))
	_, err := sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Another Grace", Email: usersapi.UserEmail(strings.ToUpper(mail))})
	problem(t, err, 409, charter.CodeAlreadyExists)

	other := must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Alan Turing", Email: usersapi.UserEmail(email("alan."))}))
	_, err = sdk.UpdateUser(ctx, string(other.ID), charter.UpdateUserBody{Email: usersapi.NewOptUserEmail(usersapi.UserEmail(mail))})
	problem(t, err, 409, charter.CodeAlreadyExists)
}

func TestInvalidInputListsTheBadFields(t *testing.T) {
	ctx := context.Background()
	sdk := newClient(t)
	_, err := sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Bad Email", Email: "not-an-email"})
	created := problem(t, err, 400, charter.CodeInvalidArgument)
	if !slices.ContainsFunc(created.Fields, func(f charter.FieldError) bool { return f.Field == "/email" && f.Message != "" }) {
		t.Fatalf("the fields name /email: %+v", created.Fields)
	}

	_, err = sdk.CreateUser(ctx, charter.CreateUserBody{Name: "   ", Email: "x"})
	both := problem(t, err, 400, charter.CodeInvalidArgument)
	var fields []string
	for _, f := range both.Fields {
		fields = append(fields, f.Field)
	}
	if !slices.Contains(fields, "/email") || !slices.Contains(fields, "/name") {
		t.Fatalf("every bad field is listed: %v", fields)
	}

	user := must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Valid", Email: usersapi.UserEmail(email(""))}))
	_, err = sdk.UpdateUser(ctx, string(user.ID), charter.UpdateUserBody{})
	problem(t, err, 400, charter.CodeInvalidArgument)
	_, err = sdk.GetUser(ctx, "not-a-number")
	problem(t, err, 400, charter.CodeInvalidArgument)
	_, err = sdk.ListUsers(ctx, charter.Page{Size: 1001})
	problem(t, err, 400, charter.CodeInvalidArgument)
}

// recorder is a transport that keeps every request's URL and Authorization header.
type recorder struct {
	mu       sync.Mutex
	urls     []*url.URL
	auth     []string
	clientID []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL)
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.clientID = append(r.clientID, req.Header.Get("X-Client"))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestUsersWalksEveryPageInCreationOrder(t *testing.T) {
	ctx := context.Background()
	sdk := newClient(t)
	tag := "page." + strings.ToLower(rand.Text()[:6]) + "."
	var created []usersapi.UserId
	for i := range 7 {
		u := must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: usersapi.UserName(fmt.Sprintf("Paged %d", i)), Email: usersapi.UserEmail(email(tag))}))
		created = append(created, u.ID)
	}

	rec := &recorder{}
	counting := newClient(t, charter.WithHTTPClient(&http.Client{Transport: rec}), charter.WithHeader("X-Client", "sdk-test"))
	var seen []charter.User
	for user, err := range counting.Users(ctx, 2) {
		if err != nil {
			t.Fatalf("walking the users: %v", err)
		}
		seen = append(seen, user)
	}
	ids := map[usersapi.UserId]bool{}
	var ours []usersapi.UserId
	for _, u := range seen {
		ids[u.ID] = true
		if strings.HasPrefix(string(u.Email), tag) {
			ours = append(ours, u.ID)
		}
	}
	if len(ids) != len(seen) || len(seen) < len(created) {
		t.Fatalf("every user once: %d users, %d distinct", len(seen), len(ids))
	}
	if !slices.Equal(ours, created) {
		t.Fatalf("the created users, in creation order: %v, created %v", ours, created)
	}
	if len(rec.urls) < (len(seen)+1)/2 {
		t.Fatalf("one request per page of 2: %d requests for %d users", len(rec.urls), len(seen))
	}
	bearer := regexp.MustCompile(`^Bearer [\w-]+\.[\w-]+\.[\w-]+$`)
	for i, u := range rec.urls {
		if u.Query().Get("pageSize") != "2" || (i > 0 && !u.Query().Has("pageToken")) {
			t.Fatalf("request %d: %s", i, u)
		}
		if !bearer.MatchString(rec.auth[i]) || rec.clientID[i] != "sdk-test" {
			t.Fatalf("request %d carries the token and the client's header: %q %q", i, rec.auth[i], rec.clientID[i])
		}
	}

	var again []usersapi.UserId
	for user, err := range sdk.Users(ctx, 3) {
		if err != nil {
			t.Fatal(err)
		}
		again = append(again, user.ID)
	}
	var first []usersapi.UserId
	for _, u := range seen {
		first = append(first, u.ID)
	}
	if !slices.Equal(again, first) {
		t.Fatal("pages of 3 walk the same users")
	}

	// Breaking out of the loop stops the walk: no page after the one that holds the user.
	before := len(rec.urls)
	for range counting.Users(ctx, 2) {
		break
	}
	if len(rec.urls) != before+1 {
		t.Fatalf("a break after the first user asked for one page, asked %d", len(rec.urls)-before)
	}

	page := must[*charter.ListUsersResponse](t)(sdk.ListUsers(ctx, charter.Page{Size: 2}))
	token, ok := page.NextPageToken.Get()
	if len(page.Users) != 2 || !ok {
		t.Fatalf("a full first page has a next page: %+v", page)
	}
	next := must[*charter.ListUsersResponse](t)(sdk.ListUsers(ctx, charter.Page{Size: 2, Token: token}))
	if len(next.Users) == 0 || next.Users[0].ID == page.Users[0].ID {
		t.Fatalf("the next page goes on: %+v", next.Users)
	}
}

func TestAProblemWhileWalkingIsYielded(t *testing.T) {
	sdk := newClient(t)
	var errs []error
	for user, err := range sdk.Users(context.Background(), 1001) {
		if err == nil {
			t.Fatalf("no user expected, got %+v", user)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("one error ends the walk, got %d", len(errs))
	}
	problem(t, errs[0], 400, charter.CodeInvalidArgument)
}

func TestANetworkFailureIsNotAProblem(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close() // a free port nobody listens on
	nowhere, err := charter.New("http://"+addr, charter.WithTokenSource(charter.StaticToken("t")),
		charter.WithRetry(charter.RetryPolicy{Attempts: 2}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = nowhere.GetUser(context.Background(), "1")
	var p *charter.ProblemError
	if err == nil || errors.As(err, &p) {
		t.Fatalf("a network failure is an error that is no problem, got %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Fatalf("the transport's error is kept: %T %v", err, err)
	}
}

func TestACallWithoutATokenIsRefusedBeforeSending(t *testing.T) {
	anonymous, err := charter.New(live.gatewayURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anonymous.GetUser(context.Background(), "1"); !errors.Is(err, charter.ErrNoToken) {
		t.Fatalf("expected ErrNoToken, got %v", err)
	}
}
