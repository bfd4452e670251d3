"""``mastery serve --token``: without the token no page loads and no session starts."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from mastery_analysis.store import open_store
from serve_support import PARTICIPANT, MasteryServer

pytestmark = pytest.mark.slow

TOKEN = "a-workshop-token-of-some-length"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_the_token_gates_every_page(tmp_path):
    db = tmp_path / "store.db"
    open_store(db).close()
    with MasteryServer(db, "--token", TOKEN) as server:
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(server.base_url + PARTICIPANT, timeout=60)
        assert refused.value.code in (302, 403)
        assert "login" in refused.value.headers.get("Location", "login")
        assert "new virtual kernel" not in server.log()

        # typed once on the login page, then the pages load (the token never needs a link)
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login = browser.open(server.base_url + "/login", timeout=60).read().decode()
        xsrf = next((c.value for c in jar if c.name == "_xsrf"), None)
        fields = {"password": TOKEN}
        if xsrf:
            fields["_xsrf"] = xsrf
        assert "password" in login
        browser.open(server.base_url + "/login", data=urllib.parse.urlencode(fields).encode(), timeout=60)
        page = browser.open(server.base_url + PARTICIPANT, timeout=180)
        assert page.status == 200
        assert re.search(r"solara-session-id=", page.headers.get("Set-Cookie", ""))
        assert "solara" in page.read().decode()
