"""HTTPS awareness: the session cookie is ``Secure`` whenever the request came over
HTTPS, and ``X-Forwarded-*`` headers are believed only from a configured number of
trusted proxies (``TRUST_PROXY_HOPS``), so neither the scheme nor the client address that
sign-in throttling counts can be spoofed by a client talking to us directly."""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix


class SessionInterface(SecureCookieSessionInterface):
    """``SESSION_COOKIE_SECURE`` forces ``Secure``; otherwise HTTPS requests get it."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    hops = int(app.config.get("TRUST_PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops
        )
