"""Signs a user in once through the real login and consent forms, then runs N more code flows
on the same session (no pages: remembered consent) and prints the tokens as JSON:
{"refresh_tokens": [...], "access_token": "..."}. With MODE `codes`, prints instead a PKCE verifier
on the first line and N authorization codes (all for that verifier, not yet exchanged) on the
following lines. Used by bench/run.sh; standard library only.

usage: user_tokens.py ISSUER CLIENT_ID CLIENT_SECRET USERNAME PASSWORD N [SCOPE [MODE]]"""

import base64
import hashlib
import http.cookiejar
import json
import re
import secrets
import sys
import urllib.parse
import urllib.request

issuer, client_id, secret, username, password, n = sys.argv[1:7]
scope = sys.argv[7] if len(sys.argv) > 7 else "openid profile email offline_access"
mode = sys.argv[8] if len(sys.argv) > 8 else "tokens"
REDIRECT = "https://rp.example/cb"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def fetch(url, data=None):
    """Returns (status, location, body) without following redirects."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        r = opener.open(urllib.request.Request(url, data=body))
        return r.status, None, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location"), e.read().decode()


def field(html, name):
    return re.search(r'name="%s" value="([^"]*)"' % name, html).group(1)


def code_flow():
    verifier = secrets.token_urlsafe(32)
    code = authorize(verifier)
    req = urllib.request.Request(f"{issuer}/token", data=urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier,
    }).encode())
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode())
    return json.load(urllib.request.urlopen(req))


def authorize(verifier):
    """Runs /authorize (logging in and consenting when asked) and returns the code."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "scope": scope, "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    status, loc, body = fetch(f"{issuer}/authorize?{q}")
    while not loc.startswith(REDIRECT):
        status, loc2, body = fetch(urllib.parse.urljoin(issuer, loc))
        if 'name="password"' in body:
            status, loc2, body = fetch(f"{issuer}/login", {"request": field(body, "request"), "csrf": field(body, "csrf"), "username": username, "password": password})
        if loc2 is None and 'name="decision"' in body:
            status, loc2, body = fetch(f"{issuer}/consent", {"request": field(body, "request"), "csrf": field(body, "csrf"), "decision": "allow"})
        loc = loc2
    return urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["code"][0]


if mode == "codes":
    verifier = secrets.token_urlsafe(32)
    print(verifier)
    for _ in range(int(n)):
        print(authorize(verifier))
else:
    tokens = [code_flow() for _ in range(int(n) + 1)]
    print(json.dumps({"refresh_tokens": [t["refresh_token"] for t in tokens[1:] if "refresh_token" in t], "access_token": tokens[0]["access_token"]}))
