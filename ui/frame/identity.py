"""Who this browser session is, for the engine's checks (``mtae_core.store.access``).

**The actor id.** Every browser gets a random id the server makes
(``secrets.token_urlsafe``, 144 bits), signed with a secret kept in ``$MTAE_HOME`` and
stored in a cookie of this site (``mtae_actor``). The cookie, not the link, carries it:

- a refresh of the tab, a second tab of the same browser and a session that reconnects
  after the server restarted all send the cookie, so they are the same student, who may
  still cancel or delete what they started;
- no link holds it: a link copied from the address bar, sent to a friend or read off the
  projector makes nobody else that student;
- a made-up or edited cookie fails its signature and the session gets a fresh id: an id
  cannot be chosen, only received from the server.

The name (``?who=``, "Your name") is a label only: typing another student's name changes
what the runs are labelled, never whose they are.

**The teacher.** On a class server (``MTAE_TEACHER_KEY`` set in the environment, however
the server is started) a tab opened with ``?teacher=KEY`` is the teacher's for its
session: the key is compared in constant time by the engine (``check_key``), removed from
the URL at once and kept nowhere but in the session's state, so no link a page offers
ever carries it. A refresh is a new session: the teacher opens the teacher link again. A
wrong, empty or overlong key gets a plain notice and a student's rights. Without a key
set, the one person at ``make run`` is the teacher (every session is).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

import streamlit as st

from mtae_core.store.access import Actor, check_key, class_mode
from mtae_core.store.runs import default_path
from ui.frame import links, notices

TEACHER = "teacher"  # query parameter: the teacher's key (read once, removed at once)
COOKIE = "mtae_actor"  # the browser's signed actor id
ACTOR_KEY = "identity.actor"  # session: this browser's actor id
TEACHER_KEY = "identity.teacher"  # session: this tab opened the teacher link with the key
SECRET_FILE = "actor-secret"  # in $MTAE_HOME: signs the actor ids of this store's server
COOKIE_DAYS = 180
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}\.[0-9a-f]{32}")


def _secret() -> bytes:
    """The store's signing secret, made on first use (readable by its owner only). Where
    ``$MTAE_HOME`` cannot be written, one for this server process only: ids then last
    until it restarts."""
    path = Path(default_path()).parent / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another session made it meanwhile
        try:
            return bytes.fromhex(path.read_text().strip())
        except (OSError, ValueError):
            return _PROCESS_SECRET
    except OSError:
        return _PROCESS_SECRET
    with os.fdopen(fd, "w") as f:
        value = secrets.token_hex(32)
        f.write(value)
    return bytes.fromhex(value)


_PROCESS_SECRET = secrets.token_bytes(32)


def _sign(actor_id: str) -> str:
    return hmac.new(_secret(), actor_id.encode(), hashlib.sha256).hexdigest()[:32]


def token_of(actor_id: str) -> str:
    """The cookie's value for ``actor_id``: the id and its signature."""
    return f"{actor_id}.{_sign(actor_id)}"


def id_of(token: object) -> str | None:
    """The actor id a cookie's value vouches for, or None (missing, malformed, forged)."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    actor_id, sig = token.split(".")
    return actor_id if hmac.compare_digest(sig, _sign(actor_id)) else None


def _cookie() -> str | None:
    """The actor cookie the browser sent when this session connected."""
    try:
        return st.context.cookies.get(COOKIE)
    except Exception:  # no browser (AppTest) or an older Streamlit
        return None


def actor_id() -> str:
    """This browser's actor id: the signed cookie's, else a new random one."""
    ss = st.session_state
    if ACTOR_KEY not in ss:
        ss[ACTOR_KEY] = id_of(_cookie()) or secrets.token_urlsafe(18)
    return str(ss[ACTOR_KEY])


def is_teacher() -> bool:
    """The teacher's session: on a class server, a tab that opened the teacher link;
    otherwise every session (the one person at ``make run``)."""
    return not class_mode() or bool(st.session_state.get(TEACHER_KEY, False))


def actor() -> Actor:
    """Who this session is, for the engine's checked methods."""
    return Actor("teacher" if is_teacher() else "student", actor_id(), links.who())


def adopt() -> None:
    """Call first in app.py's frame, before anything draws a link: take the link's
    ``?teacher=`` key (checked, then removed from the URL at once) and make sure the
    browser keeps this session's signed actor id."""
    ss = st.session_state
    raw = st.query_params.get(TEACHER)
    if raw is not None:
        del st.query_params[TEACHER]  # the key never stays in the address bar
        if not class_mode():
            notices.flash("This server has no teacher key set (it is not a class server), "
                          "so the link's teacher key was ignored: whoever uses this "
                          "server may do everything.")
        elif check_key(raw):
            ss[TEACHER_KEY] = True
        else:  # never echoed: the notice must not show what was typed
            notices.flash("This teacher link's key is not right (or is empty or too "
                          "long), so this tab has a student's rights. Ask for the teacher "
                          "link again.")
    actor_id()
    _keep_cookie()


def _keep_cookie() -> None:
    """Write the signed id into the browser's cookie when the browser did not send it
    (a first visit, or a cookie that failed its signature), on every full run of the
    session (a run cut short may never reach the browser). A fixed script: the value is
    only letters, digits, ``-``, ``_`` and ``.``."""
    if id_of(_cookie()) == actor_id():
        return
    value = token_of(actor_id())
    if not _TOKEN.fullmatch(value):  # (never: token_urlsafe and hex)
        return
    with st.sidebar:
        st.html(f"<script>document.cookie = '{COOKIE}={value}; path=/; "
                f"max-age={COOKIE_DAYS * 86400}; SameSite=Strict';</script>",
                unsafe_allow_javascript=True)
