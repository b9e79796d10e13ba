"""The users service over gRPC (install `charter-sdk[grpc]`): the generated stub on a channel that sends a bearer
token with every call, and an error's google.rpc.Status with its details decoded."""

from __future__ import annotations

import grpc
from charter.users.v1 import users_pb2, users_pb2_grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from .tokens import TokenSource

__all__ = ["users_pb2", "users_stub", "status_of", "bad_request_of"]


class _Bearer(grpc.AuthMetadataPlugin):
    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def __call__(self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback) -> None:
        try:
            token = self._token if isinstance(self._token, str) else self._token()
        except Exception as error:  # the call fails with UNAUTHENTICATED and this error, as gRPC does
            callback((), error)
            return
        callback((("authorization", f"Bearer {token}"),), None)


def users_stub(address: str, token: TokenSource) -> tuple[users_pb2_grpc.UsersServiceStub, grpc.Channel]:
    """A stub of charter.users.v1.UsersService at host:port (cleartext, as on loopback), and its channel to close."""
    credentials = grpc.composite_channel_credentials(
        grpc.local_channel_credentials(), grpc.metadata_call_credentials(_Bearer(token))
    )
    channel = grpc.secure_channel(address, credentials)
    return users_pb2_grpc.UsersServiceStub(channel), channel


def status_of(error: grpc.RpcError) -> status_pb2.Status | None:
    """The google.rpc.Status an error carries (grpc-status-details-bin), or None."""
    return rpc_status.from_call(error)  # type: ignore[arg-type]


def bad_request_of(error: grpc.RpcError) -> error_details_pb2.BadRequest | None:
    """The google.rpc.BadRequest among the status' details: the invalid fields, each with what is wrong."""
    status = status_of(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            return bad
    return None
