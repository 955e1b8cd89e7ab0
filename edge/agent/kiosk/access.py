"""Who may drive the kiosk: the browser that opened this boot's one-time link, nothing else.

- The server listens on 127.0.0.1 only, and refuses a request whose Host is not the loopback
  address it serves (a web page elsewhere cannot reach it through DNS rebinding).
- At start a random unlock key is written to ``{data_dir}/kiosk/unlock-url`` (mode 0600) as
  ``http://127.0.0.1:PORT/unlock?key=...``; the kiosk's Chromium is launched on that URL. Using
  it sets a session cookie (HttpOnly, SameSite=Strict) and replaces the key, so the URL works
  once; a restarted browser reads the file again. Keys and sessions live in memory only: a
  reboot (or an agent restart) ends them all.
- Every form carries a CSRF token bound to the session (HMAC of the session id with a
  per-boot secret); htmx sends it as a header.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

COOKIE = "ewp_kiosk"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class KioskAccess:
    def __init__(self, run_dir: Path, host: str, port: int) -> None:
        self.run_dir = run_dir
        self.host = host
        self.port = port
        self._secret = secrets.token_bytes(32)
        self._sessions: set[str] = set()
        self._key = ""
        self.allowed_hosts = {f"{host}:{port}", f"localhost:{port}"}

    @property
    def url_file(self) -> Path:
        return self.run_dir / "unlock-url"

    def new_unlock_url(self) -> str:
        """A fresh one-time URL, also written to ``unlock-url`` for the browser launcher."""
        self._key = secrets.token_urlsafe(32)
        url = f"http://{self.host}:{self.port}/unlock?key={self._key}"
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.url_file.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(url + "\n")
        os.replace(partial, self.url_file)
        return url

    def unlock(self, key: str) -> str | None:
        """A new session id if ``key`` is the current one-time key (which is then replaced)."""
        if not self._key or not hmac.compare_digest(key.encode(), self._key.encode()):
            log.warning("kiosk unlock refused: wrong or used key")
            return None
        session = secrets.token_urlsafe(32)
        self._sessions.add(session)
        self.new_unlock_url()
        return session

    def valid(self, session: str | None) -> bool:
        return session is not None and session in self._sessions

    def csrf(self, session: str) -> str:
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: str, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(self.csrf(session), token)

    def host_ok(self, host: str | None) -> bool:
        return host in self.allowed_hosts
