"""A second relying-party library, PyPI authlib (with joserfc), runs the authorization code
flow against a running Tessera: PKCE + nonce + state, the login and consent forms posted
directly, iss checked, ID token verified against /jwks, userinfo, refresh rotation, code replay
and refresh-token reuse each revoking their grant. Then authlib registers a client dynamically
(RFC 7591, with an initial access token as its bearer token) and signs in with it through a
pushed authorization request (RFC 9126). Started by tests/tests/e2e_authlib.rs with the server,
client, user and initial access token in TESSERA_E2E."""

import json
import os
import re
import sys
from urllib.parse import parse_qs, parse_qsl, urlencode, urljoin, urlparse

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

env = json.loads(os.environ["TESSERA_E2E"])
ISSUER = env["issuer"]
REDIRECT = env["redirect_uri"]
SCOPE = "openid profile email offline_access"
meta = requests.get(ISSUER + "/.well-known/openid-configuration", timeout=10).json()
keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
browser = requests.Session()  # keeps Tessera's cookies, like a browser would


def rp_session(client=env):
    return OAuth2Session(
        client["client_id"],
        client["client_secret"],
        scope=SCOPE,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % name, html)
    assert m, "no %s field" % name
    return m.group(1)


def follow(resp):
    """Follows redirects that stay on Tessera; returns the last response."""
    while resp.status_code in (302, 303) and resp.headers["location"].startswith(("/", ISSUER)):
        resp = browser.get(urljoin(ISSUER, resp.headers["location"]), allow_redirects=False)
    return resp


def sign_in(expect_pages=True, client=env, par=False):
    """Signs in as `client`. `expect_pages`: True = login and consent, "consent" = only consent
    (the session is there), False = neither. `par`: push the request first (RFC 9126)."""
    rp = rp_session(client)
    verifier = generate_token(64)
    nonce = generate_token(24)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    if par:
        # authlib builds the request; the client authenticates with authlib's client_secret_basic.
        pushed = rp.post(
            meta["pushed_authorization_request_endpoint"],
            data=dict(parse_qsl(urlparse(url).query)),
            auth=rp.client_auth("client_secret_basic"),
            withhold_token=True,
            timeout=10,
        )
        assert pushed.status_code == 201, pushed.text
        assert pushed.headers["Cache-Control"] == "no-store"
        request_uri = pushed.json()["request_uri"]
        url = meta["authorization_endpoint"] + "?" + urlencode(
            {"client_id": client["client_id"], "request_uri": request_uri}
        )
    resp = follow(browser.get(url, allow_redirects=False))
    if expect_pages is True:
        assert 'name="password"' in resp.text, resp.text
        assert resp.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
        form = {
            "request": hidden(resp.text, "request"),
            "csrf": hidden(resp.text, "csrf"),
            "username": env["username"],
            "password": env["password"],
        }
        resp = follow(browser.post(ISSUER + "/login", data=form, allow_redirects=False))
    if expect_pages:
        assert 'name="decision"' in resp.text, resp.text
        form = {"request": hidden(resp.text, "request"), "csrf": hidden(resp.text, "csrf"), "decision": "allow"}
        resp = browser.post(ISSUER + "/consent", data=form, allow_redirects=False)
    callback = resp.headers["location"]
    assert callback.startswith(REDIRECT), callback
    params = parse_qs(urlparse(callback).query)
    assert params["iss"] == [ISSUER], params
    assert params["state"] == [state]
    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=callback, code_verifier=verifier
    )
    claims = verify_id_token(token["id_token"], nonce, client["client_id"])
    if par:
        # The request_uri was used once; a second use is an error page, not a redirect.
        again = browser.get(url, allow_redirects=False)
        assert again.status_code == 400, again.status_code
        assert 'data-error="invalid_request_uri"' in again.text
    return rp, token, claims, callback, verifier


def verify_id_token(id_token, nonce=None, aud=env["client_id"]):
    tok = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "EdDSA"])
    reg = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": aud},
        sub={"essential": True, "value": env["sub"]},
        leeway=60,
    )
    reg.validate(tok.claims)
    assert tok.claims.get("nonce") == nonce, tok.claims
    return tok.claims


def introspect(token):
    r = requests.post(
        meta["introspection_endpoint"],
        auth=(env["client_id"], env["client_secret"]),
        data={"token": token},
        timeout=10,
    )
    assert r.status_code == 200
    return r.json()["active"]


def token_error(data):
    r = requests.post(
        meta["token_endpoint"], auth=(env["client_id"], env["client_secret"]), data=data, timeout=10
    )
    assert r.status_code == 400, r.text
    return r.json()["error"]


# Flow 1: sign in, userinfo, refresh with rotation, code replay revokes the grant.
rp, token, claims, callback, verifier = sign_in()
assert claims["sid"] and claims["at_hash"] and claims["acr"]
info = rp.get(meta["userinfo_endpoint"]).json()
assert info["sub"] == env["sub"] and info["email"] == env["email"], info
new = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
assert new["refresh_token"] != token["refresh_token"]
verify_id_token(new["id_token"])
assert introspect(new["refresh_token"])
code = parse_qs(urlparse(callback).query)["code"][0]
replay = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
assert token_error(replay) == "invalid_grant"
assert not introspect(new["refresh_token"])
assert not introspect(new["access_token"])

# Flow 2: the session and remembered consent skip the pages; reusing a rotated refresh token
# revokes the grant.
rp, token, claims, _, _ = sign_in(expect_pages=False)
rotated = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
assert introspect(rotated["access_token"])
assert token_error({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}) == "invalid_grant"
assert not introspect(rotated["refresh_token"])
assert not introspect(rotated["access_token"])

# Flow 3: authlib registers a client dynamically (RFC 7591), the initial access token being its
# session's bearer token, and signs in with it through a pushed authorization request.
registrar = OAuth2Session(token={"access_token": env["initial_access_token"], "token_type": "Bearer"})
metadata = {
    "client_name": "Registered by authlib",
    "redirect_uris": [REDIRECT],
    "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "client_secret_basic",
    "scope": SCOPE,
}
r = registrar.post(meta["registration_endpoint"], json=metadata, timeout=10)
assert r.status_code == 201, r.text
registered = r.json()
assert registered["client_secret"] and registered["registration_access_token"], registered
assert registered["redirect_uris"] == [REDIRECT] and registered["scope"] == SCOPE, registered
rp, token, claims, _, _ = sign_in(expect_pages="consent", client=registered, par=True)
info = rp.get(meta["userinfo_endpoint"]).json()
assert info["sub"] == env["sub"], info
new = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
assert new["refresh_token"] != token["refresh_token"]
# Without the initial access token, registration is refused with a bearer challenge.
r = requests.post(meta["registration_endpoint"], json=metadata, timeout=10)
assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), r.status_code
print("authlib flow: ok")
sys.exit(0)
