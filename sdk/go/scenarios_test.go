package charter_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"charter.dev/generated/go/usersapi"
	charter "charter.dev/sdk/go"
)

// The shared SDK scenario list (sdk/scenarios/users.json; its format in sdk/README.md), run with the Go SDK as
// sdk/scenarios.test.ts runs it with the TypeScript SDK and sdk/python/tests/run_scenarios.py with the Python SDK:
// each scenario is a subtest of TestSharedScenarios named after it, which test/sdk-go.test.ts holds to the list.

type scenarioList struct {
	Scenarios []scenario `json:"scenarios"`
}

type scenario struct {
	Name  string         `json:"name"`
	Steps []scenarioStep `json:"steps"`
}

type scenarioStep struct {
	Op     string         `json:"op"`
	Args   map[string]any `json:"args"`
	Save   string         `json:"save"`
	Expect map[string]any `json:"expect"`
}

// stepArgs are a step's arguments by the contract's names, once the placeholders are replaced.
type stepArgs struct {
	ID   string `json:"id"`
	Body *struct {
		Name  *string `json:"name"`
		Email *string `json:"email"`
	} `json:"body"`
	IfMatch   string `json:"ifMatch"`
	PageSize  *int   `json:"pageSize"`
	PageToken string `json:"pageToken"`
	AllPages  bool   `json:"allPages"`
}

// expectation is what a step's outcome must be, once the placeholders are replaced.
type expectation struct {
	Status        int            `json:"status"`
	Body          map[string]any `json:"body"`
	Problem       *string        `json:"problem"`
	InvalidFields []string       `json:"invalidFields"`
	IDs           []string       `json:"ids"`
	PageSize      *int           `json:"pageSize"`
	NextPageToken *bool          `json:"nextPageToken"`
}

// outcome is a step's result: the answer's status and either its body as JSON or its problem.
type outcome struct {
	status  int
	body    map[string]any
	problem *charter.ProblemError
}

var placeholder = regexp.MustCompile(`\$\{([^}]+)\}`)

// scenarioState is what one scenario run gives its placeholders: a unique email per tag, each saved step's body.
type scenarioState struct {
	emails map[string]string
	saved  map[string]map[string]any
}

// substitute replaces ${email:tag}, ${EMAIL:tag} and ${saved.field} in every string of value.
func (s *scenarioState) substitute(value any) (any, error) {
	switch v := value.(type) {
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			replaced, err := s.substitute(item)
			if err != nil {
				return nil, err
			}
			out[i] = replaced
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for key, item := range v {
			replaced, err := s.substitute(item)
			if err != nil {
				return nil, err
			}
			out[key] = replaced
		}
		return out, nil
	case string:
		var failed error
		replaced := placeholder.ReplaceAllStringFunc(v, func(match string) string {
			name := match[2 : len(match)-1]
			if kind, tag, ok := strings.Cut(name, ":"); ok && (kind == "email" || kind == "EMAIL") && tag != "" {
				address, known := s.emails[tag]
				if !known {
					random := make([]byte, 4)
					_, _ = rand.Read(random)
					address = fmt.Sprintf("%s.%s@example.com", tag, hex.EncodeToString(random))
					s.emails[tag] = address
				}
				if kind == "EMAIL" {
					return strings.ToUpper(address)
				}
				return address
			}
			step, field, _ := strings.Cut(name, ".")
			saved, ok := s.saved[step][field]
			if !ok {
				failed = fmt.Errorf(`%s: no saved step %q with a field %q`, match, step, field)
				return match
			}
			return fmt.Sprint(saved)
		})
		return replaced, failed
	default:
		return value, nil
	}
}

// substituteInto replaces the placeholders of value and decodes the result into dst.
func (s *scenarioState) substituteInto(value any, dst any) error {
	replaced, err := s.substitute(value)
	if err != nil {
		return err
	}
	encoded, err := json.Marshal(replaced)
	if err != nil {
		return err
	}
	return json.Unmarshal(encoded, dst)
}

// asJSON is a value of the SDK as the contract's JSON object.
func asJSON(value interface{ MarshalJSON() ([]byte, error) }) (map[string]any, error) {
	encoded, err := value.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var body map[string]any
	return body, json.Unmarshal(encoded, &body)
}

// statusRecorder keeps the status of the latest answer the client received (a scenario's steps run one at a time).
type statusRecorder struct {
	mu     sync.Mutex
	status int
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.status = resp.StatusCode
		r.mu.Unlock()
	}
	return resp, err
}

func (r *statusRecorder) last() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// perform runs one step's operation (its operationId) with the Go SDK's method for it. An answer that is a problem
// is an outcome; any other error (the network, a placeholder) fails the step.
func perform(ctx context.Context, sdk *charter.Client, answers *statusRecorder, op string, args stepArgs) (outcome, error) {
	var opts []charter.CallOption
	if args.IfMatch != "" {
		opts = append(opts, charter.IfMatch(args.IfMatch))
	}
	bodyField := func(field *string, name string) (string, error) {
		if field == nil {
			return "", fmt.Errorf("%s needs args.body.%s", op, name)
		}
		return *field, nil
	}
	var (
		user *charter.User
		body map[string]any
		err  error
	)
	if args.Body == nil && (op == "createUser" || op == "updateUser" || op == "lookupUser") {
		return outcome{}, fmt.Errorf("%s needs args.body", op)
	}
	switch op {
	case "createUser":
		name, nameErr := bodyField(args.Body.Name, "name")
		email, emailErr := bodyField(args.Body.Email, "email")
		if err := errors.Join(nameErr, emailErr); err != nil {
			return outcome{}, err
		}
		user, err = sdk.CreateUser(ctx, charter.CreateUserBody{Name: usersapi.UserName(name), Email: usersapi.UserEmail(email)})
	case "getUser":
		user, err = sdk.GetUser(ctx, args.ID)
	case "lookupUser":
		email, emailErr := bodyField(args.Body.Email, "email")
		if emailErr != nil {
			return outcome{}, emailErr
		}
		user, err = sdk.LookupUser(ctx, email)
	case "updateUser":
		var patch charter.UpdateUserBody
		if args.Body.Name != nil {
			patch.Name = usersapi.NewOptUserName(usersapi.UserName(*args.Body.Name))
		}
		if args.Body.Email != nil {
			patch.Email = usersapi.NewOptUserEmail(usersapi.UserEmail(*args.Body.Email))
		}
		user, err = sdk.UpdateUser(ctx, args.ID, patch, opts...)
	case "deleteUser":
		err = sdk.DeleteUser(ctx, args.ID, opts...)
	case "listUsers":
		page := charter.Page{Token: args.PageToken}
		if args.PageSize != nil {
			page.Size, page.SendZeroSize = *args.PageSize, true
		}
		if args.AllPages {
			ids := []any{}
			for user, walkErr := range sdk.Users(ctx, page.Size) {
				if walkErr != nil {
					err = walkErr
					break
				}
				ids = append(ids, string(user.ID))
			}
			body = map[string]any{"ids": ids}
			break
		}
		var list *charter.ListUsersResponse
		if list, err = sdk.ListUsers(ctx, page); err == nil {
			body, err = asJSON(list)
		}
	default:
		return outcome{}, fmt.Errorf("unknown operation %s", op)
	}
	var problem *charter.ProblemError
	if errors.As(err, &problem) {
		return outcome{status: problem.Status, problem: problem}, nil
	}
	if err != nil {
		return outcome{}, err
	}
	if user != nil {
		if body, err = asJSON(user); err != nil {
			return outcome{}, err
		}
	}
	return outcome{status: answers.last(), body: body}, nil
}

// check compares a step's outcome with its expectation, as the TypeScript and Python runners do.
func check(got outcome, want expectation) error {
	seen := func() string {
		if got.problem != nil {
			encoded, _ := got.problem.Problem.MarshalJSON()
			return string(encoded)
		}
		encoded, _ := json.Marshal(got.body)
		return string(encoded)
	}
	if got.status != want.Status {
		return fmt.Errorf("status %d, expected %d: %s", got.status, want.Status, seen())
	}
	if want.Problem != nil {
		if got.problem == nil {
			return fmt.Errorf("expected a problem, got %s", seen())
		}
		if string(got.problem.Code) != *want.Problem {
			return fmt.Errorf("code %s, expected %s: %s", got.problem.Code, *want.Problem, seen())
		}
		if got.problem.Problem.Status != want.Status {
			return fmt.Errorf("the problem repeats the HTTP status %d: %s", want.Status, seen())
		}
		var fields []string
		for _, field := range got.problem.Fields {
			fields = append(fields, field.Field)
		}
		for _, field := range want.InvalidFields {
			if !slices.Contains(fields, field) {
				return fmt.Errorf("the problem does not name %s among its fields %v", field, fields)
			}
		}
		return nil
	}
	if got.problem != nil {
		return fmt.Errorf("expected success, got %s", seen())
	}
	for field, value := range want.Body {
		if !reflect.DeepEqual(got.body[field], value) {
			return fmt.Errorf("%s is %#v, expected %#v", field, got.body[field], value)
		}
	}
	if want.IDs != nil {
		walked, _ := got.body["ids"].([]any)
		distinct := map[any]bool{}
		var mine []string
		for _, id := range walked {
			distinct[id] = true
			if text, ok := id.(string); ok && slices.Contains(want.IDs, text) {
				mine = append(mine, text)
			}
		}
		if len(distinct) != len(walked) {
			return errors.New("the walk returned a user twice")
		}
		if !slices.Equal(mine, want.IDs) {
			return fmt.Errorf("the walk returned %v of the expected users, expected %v", mine, want.IDs)
		}
	}
	if want.PageSize != nil {
		users, _ := got.body["users"].([]any)
		if len(users) != *want.PageSize {
			return fmt.Errorf("%d users on the page, expected %d", len(users), *want.PageSize)
		}
	}
	if want.NextPageToken != nil {
		token, _ := got.body["nextPageToken"].(string)
		if (token != "") != *want.NextPageToken {
			return fmt.Errorf("nextPageToken is %q", token)
		}
	}
	return nil
}

func TestSharedScenarios(t *testing.T) {
	file, err := os.ReadFile("../scenarios/users.json")
	if err != nil {
		t.Fatalf("reading the shared scenario list: %v", err)
	}
	var list scenarioList
	if err := json.Unmarshal(file, &list); err != nil {
		t.Fatalf("sdk/scenarios/users.json: %v", err)
	}
	if len(list.Scenarios) < 6 {
		t.Fatalf("the list has %d scenarios, expected at least 6", len(list.Scenarios))
	}
	ctx := context.Background()
	for _, sc := range list.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			if len(sc.Steps) == 0 {
				t.Fatalf("%s: the scenario has no steps", sc.Name)
			}
			answers := &statusRecorder{}
			sdk := newClient(t, charter.WithHTTPClient(&http.Client{Transport: answers}))
			state := &scenarioState{emails: map[string]string{}, saved: map[string]map[string]any{}}
			for index, step := range sc.Steps {
				fail := func(err error) {
					t.Helper()
					t.Fatalf("%s: step %d (%s): %v", sc.Name, index+1, step.Op, err)
				}
				var args stepArgs
				if err := state.substituteInto(step.Args, &args); err != nil {
					fail(err)
				}
				got, err := perform(ctx, sdk, answers, step.Op, args)
				if err != nil {
					fail(err)
				}
				var want expectation
				if err := state.substituteInto(step.Expect, &want); err != nil {
					fail(err)
				}
				if err := check(got, want); err != nil {
					fail(err)
				}
				if step.Save != "" && got.problem == nil && got.body != nil {
					state.saved[step.Save] = got.body
				}
			}
		})
	}
}
