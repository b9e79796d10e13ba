// The Go client `npm run generate` writes for a service made by `npm run new:service -- books`
// (generated/go/booksapi, by ogen), against a live gateway: a create, a read and a missing read. BASE is the
// gateway's URL, TOKEN a bearer token with books:read and books:write. Prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"charter.dev/generated/go/booksapi"
)

type bearer string

func (b bearer) OAuth2(context.Context, booksapi.OperationName) (booksapi.OAuth2, error) {
	return booksapi.OAuth2{Token: string(b)}, nil
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	ctx := context.Background()
	client, err := booksapi.NewClient(os.Getenv("BASE"), bearer(os.Getenv("TOKEN")))
	if err != nil {
		fail("client: %v", err)
	}
	created, err := client.CreateBook(ctx, &booksapi.CreateBookBody{Name: "Persuasion"})
	if err != nil {
		fail("create: %v", err)
	}
	made, ok := created.(*booksapi.BookHeaders)
	if !ok {
		fail("create answered %T", created)
	}
	got, err := client.GetBook(ctx, booksapi.GetBookParams{ID: made.Response.ID})
	if err != nil {
		fail("get: %v", err)
	}
	read, ok := got.(*booksapi.GetBookOKHeaders)
	if !ok {
		fail("get answered %T", got)
	}
	missing, err := client.GetBook(ctx, booksapi.GetBookParams{ID: "1"})
	if err != nil {
		fail("get a missing one: %v", err)
	}
	notFound, ok := missing.(*booksapi.GetBookNotFound)
	if !ok {
		fail("get a missing one answered %T", missing)
	}
	out, _ := json.Marshal(map[string]any{
		"name":    string(read.Response.Name),
		"etag":    read.ETag.Value,
		"missing": string(notFound.Code),
	})
	fmt.Println(string(out))
}
