"""What every page shares: the language (Japanese first, ``?lang=en`` or the cookie), the
session, rendering a Jinja2 template, error pages, and turning the services' exceptions into
a page with the message (never a 500 for anything a service raises on purpose).

Templates say every label in both languages next to each other — ``{{ tr("住民検索",
"Resident search") }}`` — so no label lacks a translation; labelled enums of the rules
(``Procedure``, ``PhotoId`` …) carry theirs (``{{ lab(x) }}``), and decisions carry
``message_ja``/``message_en`` (``{{ msg(d) }}``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from openjpki import labels
from openjpki.rules import to_jst
from openjpki.web.pages.session import CSRF_FIELD, LANG_COOKIE, PageSession, Sessions, csrf_ok

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANGS = ("ja", "en")
log = logging.getLogger("openjpki.web.pages")

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                   autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def _lab(lang: str) -> Callable[[Any], str]:
    def lab(x: Any) -> str:
        if x is None:
            return ""
        if isinstance(x, dict):
            return str(x.get(lang) or x.get("item") or "")
        return str(getattr(x, lang, x))
    return lab


_RULE_NOTE = re.compile(r"\s?[（(][^（）()]*?R\d+\.\d+[^（）()]*[）)]")
_RULE_BARE = re.compile(r"\s?\bR\d+\.\d+(?:[–-]R?\d+\.\d+)?\b")


def without_rules(text: str) -> str:
    """``text`` without rule numbers: 「…です（R6.2, R6.3）。」 → 「…です。」"""
    return _RULE_BARE.sub("", _RULE_NOTE.sub("", text))


def _msg(lang: str, public: bool = False) -> Callable[[Any], str]:
    inner = _msg_plain(lang)

    def msg(x: Any) -> str:
        text = inner(x)
        return without_rules(text) if public else text
    return msg


def _msg_plain(lang: str) -> Callable[[Any], str]:
    def msg(x: Any) -> str:
        if x is None:
            return ""
        if isinstance(x, (tuple, list)) and len(x) == 2:
            return str(x[0] if lang == "ja" else x[1])
        key = f"message_{lang}"
        if isinstance(x, dict):
            return str(x.get(key) or "")
        return str(getattr(x, key, "") or "")
    return msg


@pass_context
def jst(context: Any, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in Japan time: 2025年4月1日 10:00 on a Japanese page."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        local = to_jst(value)
        if context.get("lang", "ja") == "ja":
            return f"{labels.ja_date(local)} {local:%H:%M}"
        return local.strftime(fmt)
    return str(value)


@pass_context
def day(context: Any, value: Any) -> str:
    """A date: 2025年4月1日 on a Japanese page, 2025-04-01 in English."""
    if context.get("lang", "ja") == "ja":
        return labels.ja_date(value)
    return labels.en_date(value)


def iso(value: Any) -> str:
    """ISO 8601 (for <time datetime>)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


_env.filters["jst"] = jst
_env.filters["day"] = day
_env.filters["wareki"] = labels.wareki
_env.filters["iso"] = iso


def sandbox_mode(request: Request) -> bool:
    """Whether this server runs as a sandbox (the footer says so only then)."""
    from openjpki.web.pages.cards import server_reader_allowed

    st = getattr(request.app.state, "openjpki_pages", None)
    if st is None:
        return False
    try:
        return server_reader_allowed(request.app.state, st.web.settings)
    except Exception:  # noqa: BLE001 — an unreadable mode is not a sandbox
        return False


def choose_lang(request: Request) -> tuple[str, bool]:
    """(language, whether it was asked for in the URL and should be remembered)."""
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked, True
    cookie = request.cookies.get(LANG_COOKIE)
    return (cookie if cookie in LANGS else "ja"), False


@dataclass
class Page:
    """One request's page context."""

    request: Request
    sessions: Sessions
    session: PageSession
    lang: str
    remember_lang: bool = False
    clerk: Any = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> "Page":
        sessions: Sessions = request.app.state.openjpki_pages.sessions
        lang, remember = choose_lang(request)
        return cls(request, sessions, sessions.load(request), lang, remember)

    @property
    def public(self) -> bool:
        """A page the public uses (the kiosk): rule numbers are not shown, only kept in
        ``data-rule`` attributes."""
        return self.extra.get("area") == "kiosk"

    def tr(self, ja: str, en: str) -> str:
        text = ja if self.lang == "ja" else en
        return without_rules(text) if self.public else text

    def lang_url(self, lang: str) -> str:
        params = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        params.append(("lang", lang))
        return f"{self.request.url.path}?{urlencode(params)}"

    def finish(self, response: Response) -> Response:
        self.sessions.save(self.request, response, self.session)
        if self.remember_lang:
            response.set_cookie(LANG_COOKIE, self.lang, max_age=365 * 86400, path="/",
                                httponly=True, samesite="lax",
                                secure=self.request.url.scheme == "https")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        ctx = {
            "request": self.request, "lang": self.lang, "tr": self.tr, "lab": _lab(self.lang),
            "msg": _msg(self.lang, self.public), "csrf_field": CSRF_FIELD,
            "public": self.public,
            "L": lambda table, code: labels.label(table, code, self.lang),
            "queue_reason": lambda text: labels.queue_reason(text, self.lang),
            "audit_action": lambda a: labels.audit_action(a, self.lang),
            "actor": lambda a: labels.actor(a, self.lang),
            "csrf_token": self.session.csrf_token, "clerk": self.clerk,
            "lang_url": self.lang_url, "path": self.request.url.path,
            "errors": {}, "values": {}, "area": "", "title": ("", ""),
        }
        ctx["sandbox"] = sandbox_mode(self.request)
        ctx.update(self.extra)
        ctx.update(context)
        html = _env.get_template(template).render(**ctx)
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str, status: int = 303) -> Response:
        return self.finish(RedirectResponse(url, status_code=status))

    def error(self, status: int, message: tuple[str, str], *, rule: Optional[str] = None,
              title: Optional[tuple[str, str]] = None, back: Optional[str] = None) -> Response:
        title = title or ERROR_TITLES.get(status, ("エラー", "Error"))
        return self.render("error.html", status=status, message=message, rule=rule,
                           error_title=title, back=back, status_code=status)

    async def form(self) -> dict[str, Any]:
        """The posted form as {name: value or [values]} (files are not taken)."""
        try:
            data = await self.request.form(max_files=0, max_fields=200)
        except Exception:  # noqa: BLE001 — a malformed body: nothing was posted
            return {}
        out: dict[str, Any] = {}
        for k, v in data.multi_items():
            if not isinstance(v, str):
                continue
            if k in out:
                prev = out[k]
                out[k] = (prev if isinstance(prev, list) else [prev]) + [v]
            else:
                out[k] = v
        return out

    def csrf_refused(self, form: dict[str, Any]) -> Optional[Response]:
        """The 403 page when the form's CSRF token is missing or wrong, else None."""
        token = form.get(CSRF_FIELD)
        if csrf_ok(self.session, token if isinstance(token, str) else None):
            return None
        return self.error(403, ("フォームの有効期限が切れたか、不正な送信です。ページを開き直して"
                                "もう一度操作してください。",
                                "The form has expired or was not sent from this site. Open "
                                "the page again and retry."),
                          title=("送信を受け付けられません (403)", "Request refused (403)"))


ERROR_TITLES = {
    400: ("入力内容に誤りがあります", "Invalid input"),
    403: ("この操作はできません (403)", "Not allowed (403)"),
    404: ("見つかりません (404)", "Not found (404)"),
    405: ("この操作はできません (405)", "Method not allowed (405)"),
    409: ("現在の状態では処理できません", "Cannot be done in the current state"),
    422: ("入力内容に誤りがあります", "Invalid input"),
    503: ("ただいま利用できません (503)", "Unavailable (503)"),
}


def service_error(e: BaseException) -> Optional[tuple[int, tuple[str, str]]]:
    """(status, (ja, en)) for an exception a service raises on purpose, else None."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from openjpki.card import CardError, CardInUse, CardStoreError, IssuingError, PcscError
    from openjpki.services.authority import (
        NotInitialised, TransitionRefused, UnknownCertificate, UnknownPartition,
    )
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter.context import ConfigError
    from openjpki.services.counter.residents import InputError, NotFound
    from openjpki.services.counter.secrets import SecretBoxError

    text = str(e) or type(e).__name__
    if isinstance(e, (NotFound, UnknownCertificate, UnknownPartition)):
        return 404, ("該当するものが見つかりません：" + text, "Not found: " + text)
    if isinstance(e, TransitionRefused):
        r = e.refusal
        return 409, (f"{r.message_ja}（{r.rule}）", f"{r.message_en} ({r.rule})")
    if isinstance(e, InputError):
        return 400, ("入力内容を処理できません：" + text, "The input cannot be processed: " + text)
    if isinstance(e, CardInUse):
        return 409, ("カードは使用中です（リーダーに挿入中か、別の処理中です）。",
                     "The card is in use (in a reader, or busy with other work).")
    if isinstance(e, (CardStoreError, CardError, IssuingError)):
        return 409, ("カードを処理できませんでした：" + text, "The card could not be used: " + text)
    if isinstance(e, PcscError):
        return 503, ("カードリーダーを利用できません：" + text, "The card reader is unavailable: " + text)
    if isinstance(e, (NotInitialised, SetupError, ConfigError, SecretBoxError)):
        return 503, ("システムが準備できていません（openjpki init を実行してください）：" + text,
                     "The system is not ready (run openjpki init): " + text)
    if isinstance(e, OperationalError):
        return 503, ("データベースが応答しません。しばらくしてからやり直してください。",
                     "The database does not answer; try again shortly.")
    if isinstance(e, IntegrityError):
        return 409, ("同時に行われた別の変更と競合しました。もう一度やり直してください。",
                     "This conflicts with a change made at the same moment; try again.")
    if isinstance(e, ValueError):
        return 400, ("入力内容を処理できません：" + text, "The input cannot be processed: " + text)
    return None


async def attempt(fn: Callable[[], Any]) -> tuple[Any, Optional[tuple[int, tuple[str, str]]]]:
    """Run a service call in the thread pool: (result, None) or (None, (status, message))
    for an exception the services raise on purpose; anything else propagates."""
    try:
        return await run_in_threadpool(fn), None
    except Exception as e:  # noqa: BLE001
        mapped = service_error(e)
        if mapped is None:
            raise
        return None, mapped


async def call(page: Page, fn: Callable[[], Any]) -> tuple[Any, Optional[Response]]:
    """Run a service call in the thread pool: (result, None), or (None, the error page) for
    an exception the services raise on purpose. Anything else is logged and answered with a
    page too (status 500 only for a true defect)."""
    try:
        return await run_in_threadpool(fn), None
    except Exception as e:  # noqa: BLE001
        mapped = service_error(e)
        if mapped is None:
            log.error("unexpected error on %s %s", page.request.method,
                      page.request.url.path, exc_info=e)
            return None, page.error(500, ("予期しないエラーが発生しました。記録されています。",
                                          "An unexpected error occurred; it has been logged."))
        return None, page.error(*mapped)
