"""What the counter's commands print for a person to read (``resident``, ``counter``,
``register``, ``counter letter``): each line in English and then in Japanese, both in the words
of the display-label table (:mod:`openjpki.labels`) — reasons, states, procedures, events,
letters — never the codes the services speak in. ``--json`` prints the codes.

The first word of an outcome stays what scripts look for: ``completed (R…)``,
``refused (R…)``, ``queued (R5.9)``, ``inquiry form mailed (R5.4)``.
"""

from __future__ import annotations

from openjpki.cli.app import console
from openjpki.labels import ja_date, label, queue_reason


def say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _kinds(kinds, lang: str = "ja") -> str:
    return ("・" if lang == "ja" else ", ").join(label("kind", k, lang) for k in kinds)


def ended_line(c: dict) -> str:
    return (f"  {label('status', c['status'], 'en')}: {label('kind', c['kind'], 'en')} "
            f"{c['serial']} ({label('reason', c['reason'], 'en')})"
            f" — {label('kind', c['kind'])} {label('status', c['status'])}"
            f"（{label('reason', c['reason'])}）")


def offer_line(o: dict, *, after: str = "") -> str:
    first = "".join(f"{label('procedure', f)}の後、" for f in o.get("first") or ())
    return (f"  offer ({o['rule']}): {label('procedure', o['procedure'], 'en')} of the "
            f"{_kinds(o['kinds'], 'en')}{after} — 案内：{first}"
            f"{_kinds(o['kinds'])}の{label('procedure', o['procedure'])}")


def _completed(d: dict) -> None:
    proc = d.get("procedure")
    say(f"completed ({d.get('rule')}): {label('procedure', proc, 'en')} — "
        f"{d.get('message_en', '')}".rstrip(" —"))
    say(f"  {label('procedure', proc)}：完了 — {d.get('message_ja', '')}".rstrip(" —"))
    for c in d.get("issued", []):
        say(f"  issued: {label('kind', c['kind'], 'en')} {c['serial']} valid to "
            f"{c['not_after']} — {label('kind', c['kind'])}（{ja_date(c['not_after'])}まで）")
    for c in d.get("ended", []):
        say(ended_line(c))
    if d.get("fee") is not None:
        why = label("fee", d.get("fee_reason"))
        say(f"  fee: {d['fee']} yen (R3.6) — 手数料 {d['fee']}円" + (f"（{why}）" if why else ""))
    for o in d.get("offers", []):
        say(offer_line(o))


def say_outcome(outcome) -> None:
    """One procedure's outcome (the caller exits 1 for a refusal, 3 for queued work)."""
    d = outcome.to_dict()
    if outcome.outcome == "deferred":
        say(f"queued ({d['rule']}): {d['message_en']}")
        say(f"  item {d['item_id']}, application {d['application_id']}: "
            f"{label('procedure', d['procedure'], 'en')}, {queue_reason(d['reason'], 'en')}; "
            "`openjpki worker` completes it once the authorities are back")
        say(f"  {label('procedure', d['procedure'])}：後日処理として受付"
            f"（{queue_reason(d['reason'])}）— {d.get('message_ja', '')}".rstrip(" —"))
    elif outcome.outcome == "refused":
        say(f"refused ({outcome.rule}): {outcome.message_en}")
        say(f"  手続きできません：{outcome.message_ja}")
        opens = outcome.opens_at or outcome.opens_on
        if opens:
            say(f"opens: {opens.isoformat()} — {ja_date(opens)}から")
        if outcome.missing:
            say("missing: " + ", ".join(label("requirement", m, "en") for m in outcome.missing)
                + " — 不足：" + "、".join(label("requirement", m) for m in outcome.missing))
    elif outcome.outcome == "inquiry_mailed":
        say(f"inquiry form mailed ({outcome.rule}): reference {outcome.reference}"
            + (f" (replaces {outcome.voided_reference})" if outcome.voided_reference else ""))
        say(f"  照会書兼回答書兼委任状を郵送します（照会番号 {outcome.reference}）")
        say(outcome.decision.message_en)
    else:
        _completed(d)


def say_register(d: dict) -> None:
    """A register event's answer (異動): what it did to the certificates, what is offered."""
    ev = d["event"]
    say(f"{label('event', ev, 'en')} registered ({d['rule']}) {d.get('message_en', '')}"
        .rstrip())
    say(f"  {d.get('message_ja') or label('event', ev) + 'を登録しました'}")
    for e in d.get("ended", []):
        say(ended_line(e))
    for o in d.get("offers", []):
        after = (", after the " + ", ".join(label("procedure", f, "en") for f in o["first"])
                 if o.get("first") else "")
        say(offer_line(o, after=after))


def _card_line(card: dict) -> str:
    face = "" if card["face_up_to_date"] else " (face out of date) — 券面の記載事項変更が必要"
    return (f"  card {card['card_number']}: {label('card_state', card['state'], 'en')}, "
            f"valid to {card['expires_on']} — マイナンバーカード "
            f"{label('card_state', card['state'])}（{ja_date(card['expires_on'])}まで）{face}")


def _cert_line(cert: dict) -> str:
    why_en = f" ({label('reason', cert['reason'], 'en')})" if cert["reason"] else ""
    why = f"（{label('reason', cert['reason'])}）" if cert["reason"] else ""
    return (f"    {label('kind', cert['kind'], 'en')} {cert['serial']}: "
            f"{label('status', cert['status'], 'en')}{why_en}, valid to {cert['not_after']}"
            f" — {label('kind', cert['kind'])} {label('status', cert['status'])}{why}"
            f"（{ja_date(cert['not_after'])}まで）")


def letter_line(x: dict) -> str:
    """One mailed letter: its id (for ``counter letter print``), reference, title, state."""
    p = x.get("payload") or {}
    title_en = p.get("title_en") or label("letter_kind", x["kind"], "en")
    title_ja = p.get("title_ja") or label("letter_kind", x["kind"])
    state_en, state_ja = label("letter_state", x["state"], "en"), label("letter_state", x["state"])
    if x["state"] == "sent" and x["kind"] != "inquiry_form":
        state_ja = "郵送済み"  # only the inquiry form awaits an answer
    return (f"  letter {x['id']} {x['reference']}: {title_en}, {state_en}, "
            f"{x['sent_at'][:10]} — {title_ja} {state_ja}（{ja_date(x['sent_at'])}）")


def say_resident(r: dict) -> None:
    gone = "" if r["on_register"] else " (not on the register) — 住民登録なし"
    say(f"resident {r['id']}: {r['name']}, born {r['birth_date']} ({ja_date(r['birth_date'])}"
        f"生), {r['address']}{gone}")
    for card in r["cards"]:
        say(_card_line(card))
        for cert in card["certificates"]:
            say(_cert_line(cert))
    for x in r.get("letters", []):
        say(letter_line(x))


__all__ = ["letter_line", "say", "say_outcome", "say_register", "say_resident"]
