"""Example end-session plugin in Python (Janssen's ``getFrontchannelHtml``): a logout page with
the operator's notice (config ``message``), one hidden iframe per relying party to sign out
through the front channel, and a small inline script that continues to the post-logout
redirect (with the RP's ``state``) once the iframes have loaded. The server serves the page with
a Content-Security-Policy that allows exactly this page's inline scripts and frames from the
listed RPs' origins.
"""

import html
import json
from typing import Optional
from urllib.parse import urlencode

from wit_world import exports
from wit_world.exports import end_session
from wit_world.imports import host


def continue_url(ctx: end_session.Context) -> Optional[str]:
    uri = ctx.post_logout_redirect_uri
    if uri is None:
        return None
    if ctx.state is not None:
        uri += ("&" if "?" in uri else "?") + urlencode({"state": ctx.state})
    return uri


class EndSession(exports.EndSession):
    def end_session(self, ctx: end_session.Context) -> Optional[str]:
        message = host.config("message") or "You have been signed out."
        frames = "".join(
            f'<iframe hidden src="{html.escape(rp.uri)}" title="{html.escape(rp.client_id)}"></iframe>'
            for rp in ctx.frontchannel
        )
        target = continue_url(ctx)
        script = ""
        link = ""
        if target is not None:
            link = f'<p><a id="continue" href="{html.escape(target)}">Continue</a></p>'
            # json.dumps gives a JS string literal; "</" is escaped so it cannot end the element.
            literal = json.dumps(target).replace("</", "<\\/")
            script = (
                "<script>window.addEventListener('load', function () "
                f"{{ location.replace({literal}); }});</script>"
            )
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Signed out</title></head><body>"
            f'<h1 id="notice">{html.escape(message)}</h1>{frames}{link}{script}'
            "</body></html>"
        )
