"""Keeps a fuzzing run from cutting off its own credentials.

Schemathesis is free to delete users, revoke tokens and change passwords; these hooks only make
sure it never does so to the administrator and the token the run itself authenticates with, so
that every later request is still judged as an authenticated one. Everything else stays random.
"""

import os

import schemathesis

OWN_USER = os.environ.get("FUZZ_OWN_USER", "")
OWN_TOKEN_ID = os.environ.get("FUZZ_OWN_TOKEN_ID", "")


def _protected(path, name, value):
    text = str(value)
    if name == "name" and path.startswith("/api/v1/users/"):
        return text == OWN_USER
    if name == "id" and path.startswith("/api/v1/tokens/"):
        return text == OWN_TOKEN_ID
    return False


@schemathesis.hook
def before_call(ctx, case, kwargs):
    # Every request of every phase passes here (the coverage phase does not use the data
    # generation hooks), checks' extra requests included.
    parameters = case.path_parameters
    if not parameters or case.method.upper() not in ("DELETE", "PUT", "PATCH", "POST"):
        return
    for name, value in list(parameters.items()):
        if _protected(case.operation.path, name, value):
            # An id or name nobody has: the request still goes out and must be answered well.
            parameters[name] = 987654321 if name == "id" else "nobody-fuzz"


# The recorder's framed records (recorder/src/wire.rs) are bytes on the wire: random bytes are
# what a fuzzer should send (a record without its CRC32C is refused, never stored).
schemathesis.serializer.alias("application/vnd.standby.records", "application/octet-stream")
