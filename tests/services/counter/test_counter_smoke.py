
from openjpki.services.counter import Completed, issue_new_card, show_resident

from .kit import PINS, T0, card_certificate, look, person


def test_new_card_smoke(ctx):
    rid = person(ctx)
    out = issue_new_card(ctx, rid, PINS, now=T0)
    assert isinstance(out, Completed), out
    print(out.to_dict())
    shown = show_resident(ctx, rid)
    print(shown)
    for c in out.issued:
        l = look(ctx, c.serial)
        assert l.status == "good" and l.ocsp == "good"
    cert = card_certificate(ctx, out.details["virtual_card_id"], "sign")
    from openjpki.pki import read_sign_facts
    print(read_sign_facts(cert))
