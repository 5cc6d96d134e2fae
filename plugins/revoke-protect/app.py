"""Example revoke-token plugin in Python: the tokens of the clients listed in config
``protected_clients`` (comma-separated) cannot be revoked through the API. The request is denied
with ``access_denied`` and nothing is revoked (an administrator revokes those grants). Every other
revocation goes ahead.
"""

from wit_world import exports
from wit_world.exports import revoke_token
from wit_world.imports import host, types


def protected_clients() -> set:
    return {c.strip() for c in (host.config("protected_clients") or "").split(",") if c.strip()}


class RevokeToken(exports.RevokeToken):
    def revoke_token(self, ctx: revoke_token.Context) -> revoke_token.Decision:
        if ctx.token.client_id in protected_clients():
            host.log(
                host.Level.INFO,
                f"refused {ctx.caller.client_id}'s revocation of a token of {ctx.token.client_id}",
            )
            return revoke_token.Decision_Deny(
                types.OauthError(
                    error="access_denied",
                    description="tokens of this client are revoked by an administrator only",
                )
            )
        return revoke_token.Decision_Allow()
