"""Example dynamic-scope plugin in Python: serves the `org` scope.

Adds an `org` claim built from the user's e-mail domain: the domain itself, and the
organisation's display name when config `org_names` (``domain=Name;domain2=Name2``) knows it.
Users without an e-mail get no claim.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import dynamic_scope
from wit_world.imports import host


def org_names() -> dict:
    names = {}
    for pair in (host.config("org_names") or "").split(";"):
        if "=" in pair:
            domain, name = pair.split("=", 1)
            names[domain.strip().lower()] = name.strip()
    return names


class DynamicScope(exports.DynamicScope):
    def dynamic_scope(self, ctx: dynamic_scope.Context) -> str:
        try:
            user = json.loads(ctx.user)
        except ValueError as e:
            raise Err(f"user is not JSON: {e}")
        email = user.get("email")
        if not isinstance(email, str) or "@" not in email:
            return "{}"
        domain = email.rsplit("@", 1)[1].lower()
        org = {"domain": domain}
        name = org_names().get(domain)
        if name:
            org["name"] = name
        if ctx.target == dynamic_scope.Target.USERINFO:
            host.log(host.Level.DEBUG, f"org claim for {ctx.sub}")
        return json.dumps({"org": org})
