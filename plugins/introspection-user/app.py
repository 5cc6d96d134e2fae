"""Example introspection plugin in Python: adds to the response of an active user token

- ``user_id``: the server's own, stable id of the user (the same for every client, unlike a
  pairwise ``sub``), from the token's grant;
- ``session_age``: seconds since the user authenticated in the browser session the token came
  from (the session's ``auth_time``, which the server puts in the response), so a resource server
  can ask for a fresh login without parsing dates.

Client tokens and inactive responses are left unchanged.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import introspection
from wit_world.imports import host


class Introspection(exports.Introspection):
    def introspection(self, ctx: introspection.Context) -> introspection.Outcome:
        try:
            response = json.loads(ctx.response)
        except ValueError as e:
            raise Err(f"response is not JSON: {e}")
        grant = ctx.token_grant
        if not response.get("active") or grant is None or grant.subject is None:
            return introspection.Outcome_Unchanged()
        response["user_id"] = grant.subject.user_id
        auth_time = response.get("auth_time")
        if isinstance(auth_time, int):
            response["session_age"] = max(0, host.now() - auth_time)
        return introspection.Outcome_Replace(json.dumps(response))
