"""A CreateUser/GetUser round trip with the generated gRPC stub (charter_sdk.grpc) against the users service at
CHARTER_USERS_GRPC, a bearer token from the client-credentials grant (the CHARTER_* variables of run_scenarios.py),
and three refusals with their google.rpc details decoded. Prints one JSON document."""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Any

import grpc
from charter_sdk.grpc import bad_request_of, status_of, users_pb2, users_stub
from live_env import credentials
from charter.users.v1 import users_pb2_grpc
from google.rpc import error_details_pb2


def user(message: users_pb2.User) -> dict[str, Any]:
    return {"id": message.id, "name": message.name, "email": message.email}


def refusal(call: Any) -> grpc.RpcError:
    try:
        call()
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call was expected to fail")


def main() -> int:
    address = os.environ["CHARTER_USERS_GRPC"]
    token = credentials()
    stub, channel = users_stub(address, token)
    email = f"grpc.{secrets.token_hex(4)}@example.com"
    with channel:
        created = stub.CreateUser(
            users_pb2.CreateUserRequest(user=users_pb2.User(name="Ada over gRPC", email=email)), timeout=10
        ).user
        got = stub.GetUser(users_pb2.GetUserRequest(id=created.id), timeout=10).user

        invalid = refusal(
            lambda: stub.CreateUser(
                users_pb2.CreateUserRequest(user=users_pb2.User(name="Bad", email="not-an-email")), timeout=10
            )
        )
        bad = bad_request_of(invalid)
        missing = refusal(lambda: stub.GetUser(users_pb2.GetUserRequest(id="1"), timeout=10))

    with grpc.insecure_channel(address) as bare:
        anonymous = refusal(
            lambda: users_pb2_grpc.UsersServiceStub(bare).GetUser(users_pb2.GetUserRequest(id=created.id), timeout=10)
        )
    reason = ""
    status = status_of(anonymous)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason

    print(
        json.dumps(
            {
                "created": user(created),
                "got": user(got),
                "invalid": {
                    "code": invalid.code().name,
                    "violations": [
                        {"field": v.field, "description": v.description} for v in (bad.field_violations if bad else [])
                    ],
                },
                "missing": {"code": missing.code().name},
                "anonymous": {"code": anonymous.code().name, "reason": reason},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
