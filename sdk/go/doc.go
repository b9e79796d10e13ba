// Package charter is the Go client of Charter's users REST API, over the client that ogen generates from
// contracts/openapi/users.v1.yaml (charter.dev/generated/go/usersapi).
//
// Every error answer of the gateway is returned as a *ProblemError (the contract's RFC 9457 problem: Status,
// Code, Detail, Fields), usable with errors.As. What is not an HTTP answer (the gateway cannot be reached, the
// context ends) is returned as the transport's error, unchanged: it has no status or problem to report.
//
// A Client sends the bearer token of its TokenSource (ClientCredentials for the OAuth 2.0 client-credentials
// grant, StaticToken for a token at hand) with every request, retries what is safe to send twice (reads, writes
// with If-Match, creates with an Idempotency-Key) after a 502, 503, 504 or a network error, and walks the pages
// of a list with Users and UserHistory (iter.Seq2).
package charter
