package charter_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"charter.dev/generated/go/usersapi"
	charter "charter.dev/sdk/go"
)

func TestUserHistoryWalksTheThreeEvents(t *testing.T) {
	ctx := context.Background()
	sdk := newClient(t)
	user := must[*charter.User](t)(sdk.CreateUser(ctx, charter.CreateUserBody{Name: "Ada Lovelace", Email: usersapi.UserEmail(email("history."))}))
	must[*charter.User](t)(sdk.UpdateUser(ctx, string(user.ID), charter.UpdateUserBody{Name: name("Ada King")}))
	if err := sdk.DeleteUser(ctx, string(user.ID)); err != nil {
		t.Fatal(err)
	}

	// The history is recorded from the events shortly after each change: wait for the three, with a deadline.
	var events []charter.UserEvent
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := must[*charter.UserHistory](t)(sdk.ListUserHistory(ctx, string(user.ID), charter.Page{}))
		if events = page.Events; len(events) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the three events did not arrive in 10 s: %+v", events)
		}
		time.Sleep(50 * time.Millisecond) // a poll interval; the condition above is what is waited for
	}
	var kinds []usersapi.UserEventType
	for _, e := range events {
		kinds = append(kinds, e.Type)
		if e.UserId != user.ID {
			t.Fatalf("an event of another user: %+v", e)
		}
	}
	if !slices.Equal(kinds, []usersapi.UserEventType{"CREATED", "UPDATED", "DELETED"}) {
		t.Fatalf("created, updated, deleted: %v", kinds)
	}
	if created, ok := events[0].User.Get(); !ok || created != *user {
		t.Fatalf("the CREATED event holds the user as created: %+v", events[0].User)
	}
	if events[2].User.IsSet() {
		t.Fatal("a DELETED event has no user")
	}

	var walked []string
	for event, err := range sdk.UserHistory(ctx, string(user.ID), 1) {
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, event.EventId)
	}
	var ids []string
	for _, e := range events {
		ids = append(ids, e.EventId)
	}
	if !slices.Equal(walked, ids) {
		t.Fatalf("pages of one walk the same events: %v, listed %v", walked, ids)
	}

	for _, err := range sdk.UserHistory(ctx, "not-a-number", 0) {
		problem(t, err, 400, charter.CodeInvalidArgument)
	}
}

func TestUserStatsAreUnavailableWithoutAStatsPipeline(t *testing.T) {
	sdk := newClient(t, charter.WithRetry(charter.RetryPolicy{Attempts: 1}))
	_, err := sdk.GetUserStats(context.Background())
	problem(t, err, 503, charter.CodeUnavailable)
}
