"""Request validation problems that name the field in ``detail`` as well as in ``errors``.

The app-wide handler (:mod:`openjpki.web.problems`) answers 422 with ``errors[].loc``; this one
keeps that exact shape and adds the fields to ``detail``, e.g. ``body.birth_date: Input should
be a valid date``, so a clerk's screen can show one line.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from openjpki.web.api.errors import PROBLEM_BASE
from openjpki.web.problems import problem_response

INVALID_REQUEST = PROBLEM_BASE + "invalid-request"


def _loc(parts) -> str:
    return ".".join(str(p) for p in parts)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    fields = sorted({_loc(e["loc"]) for e in errors})
    first = errors[0] if errors else None
    detail = (f"{_loc(first['loc'])}: {first['msg']}" if first else "invalid request")
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more)"
    return problem_response(422, "Invalid request", detail, type=INVALID_REQUEST,
                            instance=request.url.path, errors=errors, fields=fields)


def install_validation_handler(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
