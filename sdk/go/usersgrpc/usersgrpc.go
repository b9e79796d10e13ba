// Package usersgrpc is a gRPC client of Charter's users service, over the stubs protoc-gen-go-grpc generates from
// contracts/proto/charter/users/v1/users.proto (charter.dev/generated/go/proto/charter/users/v1): a connection that
// sends a bearer token with every call, and the google.rpc details of the service's errors, decoded.
package usersgrpc

import (
	"context"
	"errors"
	"fmt"

	usersv1 "charter.dev/generated/go/proto/charter/users/v1"
	"golang.org/x/oauth2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Client is the generated users service client and the connection it runs on (Close it when done).
type Client struct {
	usersv1.UsersServiceClient
	conn *grpc.ClientConn
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// New connects to the users service at addr (host:port) and sends the source's access token as the authorization
// metadata (Bearer) of every call. With transport nil the connection is plaintext, for a service on a trusted
// network such as loopback; otherwise the token is only sent over the given transport security.
func New(addr string, tokens oauth2.TokenSource, transport credentials.TransportCredentials, opts ...grpc.DialOption) (*Client, error) {
	secure := transport != nil
	if !secure {
		transport = insecure.NewCredentials()
	}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithPerRPCCredentials(bearer{tokens: tokens, secure: secure}),
	}, opts...)
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return nil, fmt.Errorf("usersgrpc: %w", err)
	}
	return &Client{UsersServiceClient: usersv1.NewUsersServiceClient(conn), conn: conn}, nil
}

type bearer struct {
	tokens oauth2.TokenSource
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b.tokens == nil {
		return nil, nil
	}
	token, err := b.tokens.Token()
	if err != nil {
		return nil, fmt.Errorf("usersgrpc: getting a token: %w", err)
	}
	return map[string]string{"authorization": "Bearer " + token.AccessToken}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.secure }

// Details are the google.rpc details of a call's error: the invalid fields of an INVALID_ARGUMENT (BadRequest,
// fields as proto paths such as user.email) and the machine-readable reason and domain of the service that refused
// (ErrorInfo), when it sent them.
type Details struct {
	FieldViolations []*errdetails.BadRequest_FieldViolation
	Info            *errdetails.ErrorInfo
}

// DetailsOf decodes the details of err; ok is false when err is no gRPC status error.
func DetailsOf(err error) (details Details, ok bool) {
	var withStatus interface{ GRPCStatus() *status.Status }
	if err == nil || !errors.As(err, &withStatus) {
		return Details{}, false
	}
	for _, detail := range withStatus.GRPCStatus().Details() {
		switch d := detail.(type) {
		case *errdetails.BadRequest:
			details.FieldViolations = append(details.FieldViolations, d.GetFieldViolations()...)
		case *errdetails.ErrorInfo:
			details.Info = d
		}
	}
	return details, true
}
