"""One table of display labels: what the pages, the letters and the CLI's Japanese output
call the codes the services speak in (revocation reasons, certificate and card states,
procedures, applicant types, household relations, deferred-work states and reasons, letters,
register events, fees), in Japanese and in English — so that no internal code reaches a
Japanese page or letter, and every place says the same word.

    label("reason", "affiliationChanged")          # 記録事項の変更
    label("reason", "affiliationChanged", "en")    # recorded facts changed
    ja_date(date(2025, 4, 1))                      # 2025年4月1日
    wareki(date(2025, 4, 1))                       # 令和7年4月1日

A code not in the table is returned as given (so a new code shows up, visibly, rather than
vanishing); ``tests/pages/test_japanese_only.py`` is what keeps the Japanese pages clean.
Labels of the rules' enums (``Procedure``, ``ApplicantType``, ``Reason`` …) are taken from
the enums themselves, so there is one place per word.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any, Mapping

from openjpki.rules.documents import ApplicantType, Procedure, Requirement
from openjpki.rules.expiry import ExpiryBasis
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.rules.revocation import FactChange, Reason

Pair = tuple[str, str]


def _of_enum(enum: type[Enum]) -> dict[str, Pair]:
    return {m.value: (m.ja, m.en) for m in enum}  # type: ignore[attr-defined]


TABLES: dict[str, dict[str, Pair]] = {
    "reason": {**_of_enum(Reason),
               "cardVoided": ("カードの廃止", "card voided"),
               "cardReturned": ("カードの返納", "card returned")},
    "status": {"good": ("有効", "good"), "revoked": ("失効", "revoked"),
               "hold": ("一時保留", "on hold"), "expired": ("有効期限切れ", "expired"),
               "unknown": ("不明", "unknown")},
    "card_state": {"active": ("有効", "active"), "returned": ("返納", "returned"),
                   "expired": ("有効期限切れ", "expired"), "voided": ("廃止", "voided"),
                   "lost": ("紛失", "lost")},
    "procedure": {**_of_enum(Procedure),
                  "change_of_particulars": ("カードの記載事項変更", "change of particulars"),
                  "stay_extension": ("在留期間の更新", "extension of the period of stay")},
    "applicant": _of_enum(ApplicantType),
    "kind": _of_enum(CertKind),
    "pin": _of_enum(PinKind),
    "requirement": _of_enum(Requirement),
    "relation": {"head": ("世帯主", "head of household"), "spouse": ("妻・夫", "spouse"),
                 "wife": ("妻", "wife"), "husband": ("夫", "husband"), "child": ("子", "child"),
                 "parent": ("父母", "parent"), "father": ("父", "father"),
                 "mother": ("母", "mother"), "grandchild": ("孫", "grandchild"),
                 "sibling": ("兄弟姉妹", "sibling"), "other": ("縁故者", "other")},
    "sex": {"1": ("男", "male"), "2": ("女", "female"), "3": ("不明", "unknown")},
    "queue_state": {"queued": ("処理待ち", "queued"), "running": ("処理中", "running"),
                    "done": ("完了", "done"), "refused": ("手続きできず", "refused"),
                    "failed": ("処理失敗（要確認）", "failed")},
    "letter_kind": {"inquiry_form": ("照会書兼回答書兼委任状", "inquiry, answer and letter of "
                                     "attorney"),
                    "expiry_notice": ("有効期限通知書", "expiry notice"),
                    "card_return": ("カードの返送（手続き結果）", "card returned with the result"),
                    "result_notice": ("手続き結果のお知らせ", "result of the procedure")},
    "letter_state": {"sent": ("郵送済み（回答待ち）", "mailed"), "void": ("無効", "void"),
                     "answered": ("回答済み", "answered")},
    "event": {**_of_enum(FactChange),
              "card_particulars": ("カードの記載事項変更", "change of particulars"),
              "stay_extension": ("在留期間の更新", "extension of the period of stay")},
    "expiry_basis": _of_enum(ExpiryBasis),
    "fee": {"card_reissue": ("カードの有料再交付に伴う発行手数料",
                             "fee with a paid re-issue of the card")},
    "visit_outcome": {"accepted": ("受付", "accepted"), "refused": ("手続きできず", "refused"),
                      "completed": ("完了", "completed"),
                      "inquiry_mailed": ("照会書を郵送", "inquiry form mailed"),
                      "pin_mismatch": ("暗証番号不一致（再照会）", "PINs did not match"),
                      "deferred": ("後日処理", "deferred")},
    "fault": {"tryLater": ("一時的に応答不可", "tryLater"), "internalError": ("内部エラー", "internalError"),
              "unauthorized": ("応答拒否", "unauthorized"), "stale": ("古い応答", "stale"),
              "delay": ("応答遅延", "delay"), "missing": ("配布なし（404）", "missing"),
              "unavailable": ("利用不可（503）", "unavailable"), "off": ("なし", "off")},
}

# Deferred work (R5.9) keeps why it waits as a sentence of the health check; these are the
# beginnings it can have (the rest, after a colon, is what the operator typed).
QUEUE_REASONS: tuple[tuple[str, Pair], ...] = (
    ("the store does not answer", ("データベースが応答しません", "the store does not answer")),
    ("authorities offline", ("認証局の停止中", "authorities offline")),
    ("authorities failing", ("認証局の障害", "authorities failing")),
    ("authorities overloaded", ("認証局の混雑", "authorities overloaded")),
    ("deferred", ("後日処理", "deferred")),
)

# Expiry rules as the certificates record them (R2.x) → the basis shown.
EXPIRY_RULES = {"R2.1": "birthday", "R2.2": "auth", "R2.3": "stay"}


def label(table: str, code: Any, lang: str = "ja") -> str:
    """The label of ``code`` in ``table`` (``code`` itself when unknown)."""
    if code is None or code == "":
        return ""
    if isinstance(code, Enum):
        code = code.value
    pair = TABLES[table].get(str(code))
    if pair is None:
        return str(code)
    return pair[0] if lang == "ja" else pair[1]


def pair(table: str, code: Any) -> Pair:
    return (label(table, code, "ja"), label(table, code, "en"))


def queue_reason(text: str | None, lang: str = "ja") -> str:
    """Why deferred work waits (R5.9), in words; what follows a colon is kept as typed."""
    if not text:
        return ""
    for prefix, (ja, en) in QUEUE_REASONS:
        if text.startswith(prefix):
            rest = text[len(prefix):].lstrip(":").strip()
            if lang != "ja":
                return text
            return f"{ja}（{rest}）" if rest and not rest.isascii() else ja
    return text if lang != "ja" else "後日処理"


AUDIT_ACTIONS: dict[str, Pair] = {
    "register.add": ("住民登録", "entered on the register"),
    "register.stay_extension": ("在留期間の更新", "period of stay extended"),
    "notices.expiry_notice": ("有効期限通知書の送付", "expiry notice mailed"),
    "kiosk.pin_reset": ("キオスク端末での暗証番号の再設定", "PIN reset at a kiosk"),
    "kiosk.pin_reset.refused": ("キオスク端末での再設定（不可）", "kiosk PIN reset refused"),
    "konbini.issued": ("コンビニ交付", "convenience-store issuance"),
    "smartphone.reset_prepared": ("スマートフォンでの再設定準備", "smartphone reset prepared"),
    "smartphone.reset_refused": ("スマートフォンでの再設定（不可）", "smartphone reset refused"),
    "deferred.queued": ("後日処理として受付", "deferred"),
    "deferred.completed": ("後日処理の完了", "deferred work done"),
    "deferred.failed": ("後日処理の失敗", "deferred work failed"),
    "deferred.requeued": ("後日処理の再実行", "deferred work requeued"),
    "counter.fee.received": ("手数料の収納", "fee received"),
    "counter.letter.printed": ("郵送物の印刷", "letter printed"),
}
ACTORS: dict[str, Pair] = {"notice-batch": ("通知書の一括送付", "notice batch"),
                           "kiosk": ("キオスク端末", "kiosk"),
                           "smartphone-app": ("スマートフォン用アプリ", "smartphone app"),
                           "counter-pages": ("窓口画面", "counter pages"),
                           "cli": ("コマンドライン", "command line"),
                           "sandbox": ("サンドボックス", "sandbox")}


def audit_action(action: str, lang: str = "ja") -> str:
    """An audit entry's action in words (``counter.renewal.completed`` → 更新：完了)."""
    if lang != "ja":
        return action
    if action in AUDIT_ACTIONS:
        return AUDIT_ACTIONS[action][0]
    parts = action.split(".")
    if len(parts) == 3 and parts[0] == "counter":
        return f"{label('procedure', parts[1])}：{label('visit_outcome', parts[2])}"
    if len(parts) == 2 and parts[0] == "register":
        return f"{label('event', parts[1])}の登録"
    if parts[0] == "clerk":
        return "職員アカウントの操作"
    if parts[0] == "sandbox":
        return "サンドボックスでの操作"
    return "その他の操作"


def actor(name: str, lang: str = "ja") -> str:
    """Who acted: ``clerk:suzuki`` → 職員（suzuki）."""
    if lang != "ja" or not name:
        return name or ""
    if name.startswith("clerk:"):
        return f"職員（{name[6:]}）"
    return ACTORS.get(name, ("システム", ""))[0]


def options(table: str, codes: Any = None) -> list[tuple[str, Pair]]:
    """``[(code, (ja, en))]`` for a form's choices."""
    t: Mapping[str, Pair] = TABLES[table]
    return [(c, t[c]) for c in (codes if codes is not None else t)]


# --- dates as people read them ---------------------------------------------------------------

_ERAS = ((date(2019, 5, 1), "令和"), (date(1989, 1, 8), "平成"), (date(1926, 12, 25), "昭和"),
         (date(1912, 7, 30), "大正"), (date(1868, 10, 23), "明治"))


def _as_date(d: Any) -> date | None:
    if d is None or d == "":
        return None
    if isinstance(d, datetime):
        return d.date()
    if isinstance(d, date):
        return d
    try:
        return date.fromisoformat(str(d)[:10])
    except ValueError:
        return None


def ja_date(d: Any) -> str:
    """2025年4月1日 (a date, a datetime or an ISO string; other text as given)."""
    day = _as_date(d)
    if day is None:
        return "" if d is None else str(d)
    return f"{day.year}年{day.month}月{day.day}日"


def wareki(d: Any) -> str:
    """The date in the Japanese era calendar, as registers and letters print it: 令和7年4月1日
    (元年 for the first year). Before Meiji: the Western year."""
    day = _as_date(d)
    if day is None:
        return "" if d is None else str(d)
    for start, era in _ERAS:
        if day >= start:
            n = day.year - start.year + 1
            return f"{era}{'元' if n == 1 else n}年{day.month}月{day.day}日"
    return ja_date(day)


def en_date(d: Any) -> str:
    day = _as_date(d)
    return day.isoformat() if day is not None else ("" if d is None else str(d))


__all__ = ["TABLES", "label", "audit_action", "actor", "pair", "options", "queue_reason", "ja_date", "wareki",
           "en_date", "EXPIRY_RULES"]
