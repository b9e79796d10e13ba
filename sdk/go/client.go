package charter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"

	"charter.dev/generated/go/usersapi"
	"github.com/ogen-go/ogen/ogenerrors"
	"github.com/ogen-go/ogen/validate"
	"golang.org/x/oauth2"
)

// The contract's types, as ogen generates them.
type (
	User              = usersapi.User
	CreateUserBody    = usersapi.CreateUserBody
	UpdateUserBody    = usersapi.UpdateUserBody
	ListUsersResponse = usersapi.ListUsersResponse
	UserEvent         = usersapi.UserEvent
	UserEventType     = usersapi.UserEventType
	UserHistory       = usersapi.UserHistory
	UserStats         = usersapi.UserStats
)

// ErrNoToken is returned by every call of a Client made without a token source: every operation of the API needs a
// bearer token.
var ErrNoToken = errors.New("charter: no token source (use WithTokenSource): every operation needs a bearer token")

// Client calls the users REST API of one gateway. It is safe for concurrent use.
type Client struct {
	api *usersapi.Client
}

type config struct {
	httpClient *http.Client
	tokens     oauth2.TokenSource
	headers    http.Header
	retry      RetryPolicy
}

// Option configures a Client.
type Option func(*config)

// WithTokenSource sends the source's access token as Authorization: Bearer with every request (each request asks
// the source, which refreshes as it needs: ClientCredentials, StaticToken).
func WithTokenSource(tokens oauth2.TokenSource) Option { return func(c *config) { c.tokens = tokens } }

// WithHTTPClient sends the requests through this client (its Transport, Timeout, Jar) instead of a copy of
// http.DefaultClient; the Client's headers and retries wrap its Transport.
func WithHTTPClient(client *http.Client) Option { return func(c *config) { c.httpClient = client } }

// WithHeader adds a header to every request (a request's own header of the same name wins).
func WithHeader(name, value string) Option {
	return func(c *config) { c.headers.Add(name, value) }
}

// WithRetry replaces the default retry policy; RetryPolicy{Attempts: 1} sends every request once.
func WithRetry(policy RetryPolicy) Option { return func(c *config) { c.retry = policy } }

// New is a Client of the gateway at baseURL, its origin (http://127.0.0.1:8080; the API's paths start with /v1).
func New(baseURL string, opts ...Option) (*Client, error) {
	cfg := config{headers: http.Header{}}
	for _, opt := range opts {
		opt(&cfg)
	}
	httpClient := http.Client{}
	if cfg.httpClient != nil {
		httpClient = *cfg.httpClient
	}
	transport := httpClient.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	transport = &retryingTransport{next: &problemTransport{next: transport}, policy: cfg.retry.withDefaults()}
	httpClient.Transport = &headerTransport{next: transport, headers: cfg.headers}
	api, err := usersapi.NewClient(strings.TrimRight(baseURL, "/"), bearer{cfg.tokens}, usersapi.WithClient(&httpClient))
	if err != nil {
		return nil, fmt.Errorf("charter: %w", err)
	}
	return &Client{api: api}, nil
}

// bearer is ogen's security source: the token source's current access token.
type bearer struct{ tokens oauth2.TokenSource }

func (b bearer) OAuth2(context.Context, usersapi.OperationName) (usersapi.OAuth2, error) {
	if b.tokens == nil {
		return usersapi.OAuth2{}, ErrNoToken
	}
	token, err := b.tokens.Token()
	if err != nil {
		return usersapi.OAuth2{}, fmt.Errorf("charter: getting a token: %w", err)
	}
	return usersapi.OAuth2{Token: token.AccessToken}, nil
}

// CallOption adds to one call.
type CallOption func(*call)

type call struct {
	ifMatch        string
	idempotencyKey string
	etag           *string
}

// IfMatch applies a change or a delete only to this version: the user's Etag field (3) or an entity tag as the
// ETag header gives it ("3"). A version that is no longer current is a 412 problem (ABORTED).
func IfMatch(etag string) CallOption { return func(c *call) { c.ifMatch = EntityTag(etag) } }

// IdempotencyKey sends a create with this key (up to 128 characters, e.g. a UUID): sent again with the same key
// and body, it returns the user the first one created (201) instead of a second user or a 409; the same key with
// another body is a 422 problem (FAILED_PRECONDITION). With a key, a create is retried after a 502, 503, 504 or a
// network error.
func IdempotencyKey(key string) CallOption { return func(c *call) { c.idempotencyKey = key } }

// ETag stores the answer's ETag header (a quoted entity tag such as "3") in dst; "" when there is none.
func ETag(dst *string) CallOption { return func(c *call) { c.etag = dst } }

// EntityTag is etag as an entity tag for If-Match: "3" and W/"3" as they are, a bare etag field value quoted.
func EntityTag(etag string) string {
	if strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") {
		return etag
	}
	return `"` + etag + `"`
}

func callOf(opts []CallOption) call {
	var c call
	for _, opt := range opts {
		opt(&c)
	}
	return c
}

func (c call) keepETag(value usersapi.OptString) {
	if c.etag != nil {
		*c.etag = value.Or("")
	}
}

func optString(value string) usersapi.OptString {
	if value == "" {
		return usersapi.OptString{}
	}
	return usersapi.NewOptString(value)
}

// failure is the error of an answer that is not a success: a *ProblemError for any HTTP answer.
func failure(res any, err error) error {
	if err != nil {
		var unexpected *validate.UnexpectedStatusCodeError
		if errors.As(err, &unexpected) {
			return unexpectedProblem(unexpected.StatusCode)
		}
		if errors.Is(err, ErrNoToken) || errors.Is(err, ogenerrors.ErrSecurityRequirementIsNotSatisfied) {
			return ErrNoToken
		}
		return err
	}
	if problem, ok := problemOf(res); ok {
		return problem
	}
	return fmt.Errorf("charter: an answer of type %T the client does not know", res)
}

// CreateUser creates a user; the server assigns its id, etag and timestamps. See IdempotencyKey for retries.
func (c *Client) CreateUser(ctx context.Context, body CreateUserBody, opts ...CallOption) (*User, error) {
	o := callOf(opts)
	res, err := c.api.CreateUser(ctx, &body, usersapi.CreateUserParams{IdempotencyKey: optString(o.idempotencyKey)})
	if created, ok := res.(*usersapi.UserHeaders); ok && err == nil {
		o.keepETag(created.ETag)
		return &created.Response, nil
	}
	return nil, failure(res, err)
}

// GetUser is the user with this id; a 404 problem (NOT_FOUND) when there is none.
func (c *Client) GetUser(ctx context.Context, id string, opts ...CallOption) (*User, error) {
	o := callOf(opts)
	res, err := c.api.GetUser(ctx, usersapi.GetUserParams{ID: usersapi.UserId(id)})
	if got, ok := res.(*usersapi.GetUserOKHeaders); ok && err == nil {
		o.keepETag(got.ETag)
		return &got.Response, nil
	}
	return nil, failure(res, err)
}

// UpdateUser applies a JSON merge patch (RFC 7396) of the changeable fields; without IfMatch, to the latest version.
func (c *Client) UpdateUser(ctx context.Context, id string, patch UpdateUserBody, opts ...CallOption) (*User, error) {
	o := callOf(opts)
	body := usersapi.UpdateUserApplicationMergePatchJSON(patch)
	params := usersapi.UpdateUserParams{ID: usersapi.UserId(id), IfMatch: optString(o.ifMatch)}
	res, err := c.api.UpdateUser(ctx, &body, params)
	if updated, ok := res.(*usersapi.GetUserOKHeaders); ok && err == nil {
		o.keepETag(updated.ETag)
		return &updated.Response, nil
	}
	return nil, failure(res, err)
}

// DeleteUser deletes the user; with IfMatch, only at that version.
func (c *Client) DeleteUser(ctx context.Context, id string, opts ...CallOption) error {
	o := callOf(opts)
	res, err := c.api.DeleteUser(ctx, usersapi.DeleteUserParams{ID: usersapi.UserId(id), IfMatch: optString(o.ifMatch)})
	if _, ok := res.(*usersapi.DeleteUserNoContent); ok && err == nil {
		return nil
	}
	return failure(res, err)
}

// LookupUser is the user with this email, compared case-insensitively; a 404 problem when there is none. The
// email travels in the body of POST /v1/users:lookup, never in the URL.
func (c *Client) LookupUser(ctx context.Context, email string, opts ...CallOption) (*User, error) {
	o := callOf(opts)
	res, err := c.api.LookupUser(ctx, &usersapi.LookupUserBody{Email: usersapi.UserEmail(email)})
	if found, ok := res.(*usersapi.GetUserOKHeaders); ok && err == nil {
		o.keepETag(found.ETag)
		return &found.Response, nil
	}
	return nil, failure(res, err)
}

// Page asks for one page of a list.
type Page struct {
	// Size is the items per page, 1 to 1000; 0 leaves it to the server (50), unless SendZeroSize is set.
	Size int
	// Token is the NextPageToken of the previous page; "" for the first.
	Token string
	// SendZeroSize sends a Size of 0 as pageSize=0 instead of leaving it out, which the server answers with a 400
	// problem (INVALID_ARGUMENT) as any size outside 1 to 1000: for holding a server to the contract's minimum.
	SendZeroSize bool
}

func (p Page) size() usersapi.OptInt {
	if p.Size == 0 && !p.SendZeroSize {
		return usersapi.OptInt{}
	}
	return usersapi.NewOptInt(p.Size)
}

// ListUsers is one page of users in creation order; pass its NextPageToken back for the next. A page may hold fewer
// users than asked, even none, and still have a next page.
func (c *Client) ListUsers(ctx context.Context, page Page) (*ListUsersResponse, error) {
	res, err := c.api.ListUsers(ctx, usersapi.ListUsersParams{PageSize: page.size(), PageToken: optString(page.Token)})
	if list, ok := res.(*usersapi.ListUsersResponse); ok && err == nil {
		return list, nil
	}
	return nil, failure(res, err)
}

// Users is every user in creation order, walking the pages of pageSize users (0: the server's default). An error
// on any page is yielded once, with a zero User, and ends the walk.
func (c *Client) Users(ctx context.Context, pageSize int) iter.Seq2[User, error] {
	return walk(func(token string) ([]User, string, error) {
		page, err := c.ListUsers(ctx, Page{Size: pageSize, Token: token})
		if err != nil {
			return nil, "", err
		}
		return page.Users, page.NextPageToken.Or(""), nil
	})
}

// ListUserHistory is one page of a user's history, oldest event first. An id with no recorded change has an empty
// history (not a 404); a change shows here shortly after it is made, not at once.
func (c *Client) ListUserHistory(ctx context.Context, id string, page Page) (*UserHistory, error) {
	params := usersapi.ListUserHistoryParams{ID: usersapi.UserId(id), PageSize: page.size(), PageToken: optString(page.Token)}
	res, err := c.api.ListUserHistory(ctx, params)
	if history, ok := res.(*usersapi.UserHistory); ok && err == nil {
		return history, nil
	}
	return nil, failure(res, err)
}

// UserHistory is every event of a user's history, oldest first, walking the pages; an error ends the walk.
func (c *Client) UserHistory(ctx context.Context, id string, pageSize int) iter.Seq2[UserEvent, error] {
	return walk(func(token string) ([]UserEvent, string, error) {
		page, err := c.ListUserHistory(ctx, id, Page{Size: pageSize, Token: token})
		if err != nil {
			return nil, "", err
		}
		return page.Events, page.NextPageToken.Or(""), nil
	})
}

// GetUserStats is the latest user stats window; a 503 problem (UNAVAILABLE) while the stats pipeline has published
// none, as on embedded defaults.
func (c *Client) GetUserStats(ctx context.Context) (*UserStats, error) {
	res, err := c.api.GetUserStats(ctx)
	if stats, ok := res.(*usersapi.UserStats); ok && err == nil {
		return stats, nil
	}
	return nil, failure(res, err)
}

// walk yields every item of a paged list, page after page, until a page has no next token or fails.
func walk[T any](fetch func(token string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		token := ""
		for {
			items, next, err := fetch(token)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			token = next
		}
	}
}
