"""Problem responses (RFC 9457, ``application/problem+json``) for every error of the HTTP
layer: bad input on a JSON endpoint, unknown paths, refusals with their rule, and a catch-all
for anything unexpected, which answers a problem (never a traceback) and logs the exception
on the server side only."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
INVALID_INPUT = "https://openjpki.github.io/problems/invalid-input"
log = logging.getLogger("openjpki.web")


class Problem(Exception):
    """Raise from a route to answer a problem response. Extra members (``rule``,
    ``message_ja``, ``message_en`` …) go into the body as RFC 9457 extension members."""

    def __init__(self, status: int, title: Optional[str] = None, detail: Optional[str] = None,
                 *, type: str = "about:blank", headers: Optional[dict[str, str]] = None,
                 **extensions: Any) -> None:
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.type = type
        self.headers = headers
        self.extensions = extensions


def problem_response(status: int, title: Optional[str] = None, detail: Optional[str] = None, *,
                     type: str = "about:blank", instance: Optional[str] = None,
                     headers: Optional[dict[str, str]] = None, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type, "title": title or HTTPStatus(status).phrase,
                            "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def _problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.title, exc.detail, type=exc.type,
                            instance=request.url.path, headers=exc.headers, **exc.extensions)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(exc.status_code, detail=detail, instance=request.url.path,
                            headers=getattr(exc, "headers", None))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    return problem_response(422, "Invalid request", "The request does not have the expected "
                            "form; see errors.", instance=request.url.path, errors=errors)


async def _overflow(request: Request, exc: Exception) -> JSONResponse:
    """A number too large for a date, a duration or the store: the request's fault (400)."""
    return problem_response(400, "Invalid input", "a number in the request is too large for "
                            "what it counts", type=INVALID_INPUT, instance=request.url.path)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, "Internal Server Error",
                            "The server met an unexpected error; it has been logged.",
                            instance=request.url.path)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _problem)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(Exception, _unexpected)
