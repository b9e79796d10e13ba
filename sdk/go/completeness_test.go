package charter_test

import (
	"reflect"
	"testing"

	"charter.dev/generated/go/usersapi"
	charter "charter.dev/sdk/go"
)

// Every operation of the contract (a method of ogen's client) has the SDK method of the same name, so a new
// operation fails here until the SDK offers it.
func TestEveryOperationHasAnSDKMethod(t *testing.T) {
	generated := reflect.TypeOf(&usersapi.Client{})
	sdk := reflect.TypeOf(&charter.Client{})
	if generated.NumMethod() < 8 {
		t.Fatalf("ogen's client has %d methods, expected one per operation", generated.NumMethod())
	}
	for i := range generated.NumMethod() {
		name := generated.Method(i).Name
		if _, ok := sdk.MethodByName(name); !ok {
			t.Errorf("the operation %s has no method in the SDK (sdk/go/client.go)", name)
		}
	}
}
