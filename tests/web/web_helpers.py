"""Helpers for the web tests: a browser-like test client and reading pages as a user does."""

from __future__ import annotations

import html as html_lib
import re

PASSWORD = "kata-sandi-123"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A Flask test client that behaves like a browser: it keeps cookies and sends the CSRF
    token of the last page it saw with every form it posts."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = None
        self.last = None

    def _remember(self, response):
        self.last = response
        if response.mimetype == "text/html":
            match = CSRF_RE.search(response.get_data(as_text=True))
            if match:
                self.token = match.group(1)
        return response

    def get(self, url, **kw):
        return self._remember(self.client.get(url, **kw))

    def post(self, url, data=None, *, csrf=True, **kw):
        data = dict(data or {})
        if csrf:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        return self._remember(self.client.post(url, data=data, **kw))

    def login(self, username, password=PASSWORD):
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        self.get(response.headers["Location"])
        return response

    def logout(self):
        response = self.post("/logout", {})
        assert response.status_code == 302
        self.get(response.headers["Location"])  # a fresh session: a new CSRF token
        return response

    def language(self, locale):
        response = self.post("/language", {"locale": locale, "next": "/inbox"})
        assert response.status_code == 302
        return response


def page_text(response) -> str:
    """The visible text of a page, whitespace collapsed (for assertions on what a user reads)."""
    html = response.get_data(as_text=True)
    html = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", " ", html)
    html = re.sub(r"</?(a|span|strong|em|b|i|code|time|abbr|small|mark)\b[^>]*>", "", html)  # inline: no gap
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html_lib.unescape(text)).strip()
