"""Every command and status word of CARD.md, in process, table-driven.

Each case is a sequence of (APDU, expected SW) sent to a freshly issued card; the last
step may also check the response data. PINs: AUTH 1234, SIGN ABC123 (cardkit)."""

from __future__ import annotations

import hashlib

import pytest

from openjpki.card import layout as L
from openjpki.card.rsaops import SHA256_DIGESTINFO_PREFIX

from .cardkit import AUTH_PIN, SIGN_PIN

JPKI = "00A4040C0AD392F000260100000001"
SEL = {fid: f"00A4020C02{fid:04X}" for fid in L.ALL_EFS}
VERIFY_AUTH = "0020008004" + AUTH_PIN.encode().hex()
VERIFY_SIGN = "0020008006" + SIGN_PIN.encode().hex()
DI = (SHA256_DIGESTINFO_PREFIX + hashlib.sha256(b"x").digest()).hex()
SIGN_DI = f"802A0080{len(DI) // 2:02X}{DI}00"
OTHER = [aid.hex() for aid in L.OTHER_AIDS]
COMMON = "00A4040C0AD3921000310001010100"


def _sel_aid(aid_hex: str, p2: str = "0C") -> str:
    return f"00A404{p2}{len(aid_hex) // 2:02X}{aid_hex}"


CASES = [
    # --- SELECT ---------------------------------------------------------------------------
    ("select JPKI AP, P2 0C", [(JPKI, 0x9000)], b""),
    ("select JPKI AP, P2 00 (answered the same, no FCI)",
     [(_sel_aid(L.AID_JPKI.hex(), "00"), 0x9000)], b""),
    ("select JPKI AP, P2 04 -> 6A86", [(_sel_aid(L.AID_JPKI.hex(), "04"), 0x6A86)], None),
    ("select unknown AID -> 6A82", [(_sel_aid("A000000063504B43532D3135"), 0x6A82)], None),
    ("select unknown AID with P2 00 (OpenSC probe) -> 6A82",
     [("00A404000CF276A288BCFBA69D34F31001", 0x6A82)], None),
    *[(f"select other AP {L.OTHER_AIDS[bytes.fromhex(a)]} -> 9000", [(_sel_aid(a), 0x9000)], b"")
      for a in OTHER],
    ("select with P1 00 -> 6A86", [("00A4000C023F00", 0x6A86)], None),
    ("select by FID before the AP -> 6A82", [(SEL[0x000A], 0x6A82)], None),
    ("select by FID in another AP -> 6A82", [(_sel_aid(OTHER[0]), 0x9000),
                                             (SEL[0x000A], 0x6A82)], None),
    *[(f"select EF {fid:04X} -> 9000", [(JPKI, 0x9000), (SEL[fid], 0x9000)], b"")
      for fid in sorted(L.ALL_EFS)],
    ("select unknown EF 0003 -> 6A82", [(JPKI, 0x9000), ("00A4020C020003", 0x6A82)], None),
    ("select EF with 3-byte FID -> 6700", [(JPKI, 0x9000), ("00A4020C0300000A", 0x6700)], None),
    ("select EF with P2 04 -> 6A86", [(JPKI, 0x9000), ("00A4020402000A", 0x6A86)], None),
    # --- READ BINARY ------------------------------------------------------------------------
    ("read AUTH cert, Le 04: the DER header", [(JPKI, 0x9000), (SEL[0x000A], 0x9000),
                                             ("00B0000004", 0x9000)], "auth[:4]"),
    ("read AUTH cert, Le 00 = 256 bytes", [(JPKI, 0x9000), (SEL[0x000A], 0x9000),
                                          ("00B0000000", 0x9000)], "auth[:256]"),
    ("read crossing the end returns what exists",
     [(JPKI, 0x9000), (SEL[0x000A], 0x9000), (f"00B0{L.CERT_EF_SIZE - 10:04X}00", 0x9000)],
     bytes(10)),
    ("read starting at the end -> 6B00",
     [(JPKI, 0x9000), (SEL[0x000A], 0x9000), (f"00B0{L.CERT_EF_SIZE:04X}00", 0x6B00)], None),
    ("read at offset 7FFF -> 6B00",
     [(JPKI, 0x9000), (SEL[0x000B], 0x9000), ("00B07FFF00", 0x6B00)], None),
    ("read AUTH CA cert (no PIN)", [(JPKI, 0x9000), (SEL[0x000B], 0x9000),
                                    ("00B0000004", 0x9000)], "auth_ca[:4]"),
    ("read SIGN CA cert (no PIN)", [(JPKI, 0x9000), (SEL[0x0002], 0x9000),
                                    ("00B0000004", 0x9000)], "sign_ca[:4]"),
    ("read SIGN cert without the SIGN PIN -> 6982",
     [(JPKI, 0x9000), (SEL[0x0001], 0x9000), ("00B0000004", 0x6982)], None),
    ("read SIGN cert after the SIGN PIN",
     [(JPKI, 0x9000), (SEL[0x001B], 0x9000), (VERIFY_SIGN, 0x9000), (SEL[0x0001], 0x9000),
      ("00B0000000", 0x9000)], "sign[:256]"),
    ("read SIGN cert after the AUTH PIN only -> 6982",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0001], 0x9000),
      ("00B0000004", 0x6982)], None),
    ("re-selecting the same AP keeps the verified SIGN PIN",
     [(JPKI, 0x9000), (SEL[0x001B], 0x9000), (VERIFY_SIGN, 0x9000), (JPKI, 0x9000),
      (SEL[0x0001], 0x9000), ("00B0000004", 0x9000)], "sign[:4]"),
    ("selecting another AP and back clears the verified SIGN PIN",
     [(JPKI, 0x9000), (SEL[0x001B], 0x9000), (VERIFY_SIGN, 0x9000), (COMMON, 0x9000),
      (JPKI, 0x9000), (SEL[0x0001], 0x9000), ("00B0000004", 0x6982)], None),
    ("read token info: 160 bytes, label JPKIAPICCTOKEN2",
     [(JPKI, 0x9000), (SEL[0x0006], 0x9000), ("00B00000A0", 0x9000)], "token"),
    ("read token info past 160 -> 6B00",
     [(JPKI, 0x9000), (SEL[0x0006], 0x9000), ("00B000A001", 0x6B00)], None),
    ("read presence bytes 8F 8F 00", [(JPKI, 0x9000), (SEL[0x0008], 0x9000),
                                      ("00B0000000", 0x9000)], b"\x8f\x8f\x00"),
    ("read with no EF selected -> 6985", [(JPKI, 0x9000), ("00B0000004", 0x6985)], None),
    ("read before any AP -> 6985", [("00B0000004", 0x6985)], None),
    ("read a key EF -> 6985", [(JPKI, 0x9000), (SEL[0x0017], 0x9000),
                               ("00B0000004", 0x6985)], None),
    ("read a PIN EF -> 6985", [(JPKI, 0x9000), (SEL[0x0018], 0x9000),
                               ("00B0000004", 0x6985)], None),
    ("read SFI 01 (the SIGN certificate) without the SIGN PIN -> 6982",
     [(JPKI, 0x9000), (SEL[0x000A], 0x9000), ("00B0810004", 0x6982)], None),
    ("read SFI 0A (the AUTH certificate), short Le", [(JPKI, 0x9000), ("00B08A0004", 0x9000)],
     "auth[:4]"),
    ("read with SFI bits 6-7 set -> 6A86", [(JPKI, 0x9000), ("00B0CA0004", 0x6A86)], None),
    ("read an SFI naming no EF -> 6A82", [(JPKI, 0x9000), ("00B0830004", 0x6A82)], None),
    ("read without Le -> 6700", [(JPKI, 0x9000), (SEL[0x000A], 0x9000), ("00B00000", 0x6700)],
     None),
    ("read with data -> 6700", [(JPKI, 0x9000), (SEL[0x000A], 0x9000),
                                ("00B000000100", 0x6700)], None),
    # --- VERIFY -----------------------------------------------------------------------------
    ("AUTH tries query -> 63C3", [(JPKI, 0x9000), (SEL[0x0018], 0x9000), ("00200080", 0x63C3)],
     None),
    ("SIGN tries query -> 63C5", [(JPKI, 0x9000), (SEL[0x001B], 0x9000), ("00200080", 0x63C5)],
     None),
    ("tries query with Le 00 form -> 63C3", [(JPKI, 0x9000), (SEL[0x0018], 0x9000),
                                             ("0020008000", 0x63C3)], None),
    ("verify AUTH PIN -> 9000", [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000)],
     b""),
    ("tries query after a correct VERIFY is still 63Cx (OpenSC needs SW1 63)",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), ("00200080", 0x63C3)], None),
    ("wrong AUTH PIN -> 63C2", [(JPKI, 0x9000), (SEL[0x0018], 0x9000),
                                ("002000800430303030", 0x63C2)], None),
    ("wrong SIGN PIN -> 63C4", [(JPKI, 0x9000), (SEL[0x001B], 0x9000),
                                ("0020008006414243313234", 0x63C4)], None),
    ("verify with P2 81 (SFI of a certificate EF) -> 6985",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), ("002000810431323334", 0x6985)], None),
    ("verify with P2 98 (SFI of the AUTH PIN), no EF selected -> 9000",
     [(JPKI, 0x9000), ("00200098" + VERIFY_AUTH[8:], 0x9000)], b""),
    ("tries query with P2 9B (SIGN PIN by SFI) -> 63C5", [(JPKI, 0x9000), ("0020009B", 0x63C5)],
     None),
    ("verify with P2 01 -> 6A86", [(JPKI, 0x9000), (SEL[0x0018], 0x9000),
                                   ("002000010431323334", 0x6A86)], None),
    ("verify with no PIN EF selected -> 6985", [(JPKI, 0x9000), (SEL[0x000A], 0x9000),
                                                (VERIFY_AUTH, 0x6985)], None),
    ("verify a 17-byte PIN -> 6700, no try used",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), ("0020008011" + "31" * 17, 0x6700),
      ("00200080", 0x63C3)], None),
    # --- CHANGE REFERENCE DATA ---------------------------------------------------------------
    ("change AUTH PIN without VERIFY -> 6982", [(JPKI, 0x9000), (SEL[0x0018], 0x9000),
                                                ("002401800435363738", 0x6982)], None),
    ("change AUTH PIN after VERIFY -> 9000, new PIN works",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000),
      ("002401800435363738", 0x9000), (JPKI, 0x9000), (SEL[0x0018], 0x9000),
      ("002000800435363738", 0x9000)], b""),
    ("change AUTH PIN to 5 digits -> 6A80 (R1.3)",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000),
      ("00240180053536373839", 0x6A80)], None),
    ("change SIGN PIN to letters only -> 6A80 (R1.3)",
     [(JPKI, 0x9000), (SEL[0x001B], 0x9000), (VERIFY_SIGN, 0x9000),
      ("0024018006414243444546", 0x6A80)], None),
    ("change SIGN PIN to lower case -> 6A80 (R1.3)",
     [(JPKI, 0x9000), (SEL[0x001B], 0x9000), (VERIFY_SIGN, 0x9000),
      ("0024018006616263313233", 0x6A80)], None),
    ("change with P1 00 -> 6A86", [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000),
                                   ("002400800435363738", 0x6A86)], None),
    ("change without data -> 6700", [(JPKI, 0x9000), (SEL[0x0018], 0x9000),
                                     (VERIFY_AUTH, 0x9000), ("00240180", 0x6700)], None),
    ("change with no PIN EF selected -> 6985", [(JPKI, 0x9000), ("002401800435363738", 0x6985)],
     None),
    # --- sign ---------------------------------------------------------------------------------
    ("sign DigestInfo with the AUTH key -> 256 bytes",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      (SIGN_DI, 0x9000)], "sig256"),
    ("sign without Le -> 256 bytes", [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000),
                                      (SEL[0x0017], 0x9000), (SIGN_DI[:-2], 0x9000)], "sig256"),
    ("sign with the AUTH key without its PIN -> 6982",
     [(JPKI, 0x9000), (SEL[0x0017], 0x9000), (SIGN_DI, 0x6982)], None),
    ("sign with the SIGN key after only the AUTH PIN -> 6982",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x001A], 0x9000),
      (SIGN_DI, 0x6982)], None),
    ("sign after re-selecting the same AP -> 256 bytes",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (JPKI, 0x9000),
      (SEL[0x0017], 0x9000), (SIGN_DI, 0x9000)], "sig256"),
    ("sign after another AP and back -> 6982",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (COMMON, 0x9000),
      (JPKI, 0x9000), (SEL[0x0017], 0x9000), (SIGN_DI, 0x6982)], None),
    ("sign with no key EF selected -> 6985",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SIGN_DI, 0x6985)], None),
    ("sign mode P1 06 -> 6A86",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      ("802A068004" + "00" * 4 + "00", 0x6A86)], None),
    ("sign with P2 00 -> 6A86",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      (SIGN_DI[:6] + "00" + SIGN_DI[8:], 0x6A86)], None),
    ("sign P1 00 with 246 bytes (more than PKCS#1 allows) -> 6700",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      ("802A0080F6" + "11" * 246 + "00", 0x6700)], None),
    ("sign P1 00 with no data -> 6700",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      ("802A008000", 0x6700)], None),
    ("sign P1 02 with a 31-byte hash -> 6700",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      ("802A02801F" + "11" * 31 + "00", 0x6700)], None),
    ("sign P1 04 with a 33-byte hash -> 6700",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      ("802A048021" + "11" * 33 + "00", 0x6700)], None),
    ("sign with Le 10 -> 6700",
     [(JPKI, 0x9000), (SEL[0x0018], 0x9000), (VERIFY_AUTH, 0x9000), (SEL[0x0017], 0x9000),
      (SIGN_DI[:-2] + "10", 0x6700)], None),
    # --- classes, instructions, lengths --------------------------------------------------------
    ("unknown INS in class 00 -> 6D00", [("00CA010000", 0x6D00)], None),
    ("ISO PSO in class 00 -> 6D00", [("002A9E9A00", 0x6D00)], None),
    ("unknown INS in class 80 -> 6D00", [("80FF000000", 0x6D00)], None),
    ("SELECT in class 80 -> 6D00", [("80A4040C0AD392F000260100000001", 0x6D00)], None),
    *[(f"unknown CLA {cla} -> 6E00", [(f"{cla}A4040C0AD392F000260100000001", 0x6E00)], None)
      for cla in ("01", "0C", "10", "84", "A0", "FF")],
    ("3-byte command -> 6700", [("00A404", 0x6700)], None),
    ("empty command -> 6700", [("", 0x6700)], None),
    ("Lc larger than the data -> 6700", [("00A4040C0AD392F0", 0x6700)], None),
    # --- extended length, GET CHALLENGE, READ RECORD ------------------------------------------
    ("extended read of the AUTH certificate, Le 0000 = the whole EF",
     [(JPKI, 0x9000), (SEL[0x000A], 0x9000), ("00B00000000000", 0x9000)], "auth_ef"),
    ("extended read 046B bytes by SFI", [(JPKI, 0x9000), ("00B08A0000046B", 0x9000)],
     "auth_ef[:0x46B]"),
    ("GET CHALLENGE 8 bytes, no AP selected", [("0084000008", 0x9000)], "len8"),
    ("GET CHALLENGE 10 bytes in the JPKI AP", [(JPKI, 0x9000), ("008400000A", 0x9000)], "len10"),
    ("GET CHALLENGE with P1 01 -> 6A86", [("0084010008", 0x6A86)], None),
    ("GET CHALLENGE without Le -> 6700", [("00840000", 0x6700)], None),
    ("READ RECORD of the manufacture number in the 共通AP",
     [(COMMON, 0x9000), ("00B2010C00", 0x9000)], "record"),
    ("READ RECORD in the JPKI AP -> 6A82", [(JPKI, 0x9000), ("00B2010C00", 0x6A82)], None),
    ("READ RECORD record 2 -> 6A82", [(COMMON, 0x9000), ("00B2020C00", 0x6A82)], None),
    ("READ RECORD P2 08 -> 6A86", [(COMMON, 0x9000), ("00B2010800", 0x6A86)], None),
    ("extended READ BINARY carrying data -> 6700", [("00B0000000010000", 0x6700)], None),
    ("extended Lc not matching -> 6700", [("00B00000000005AA", 0x6700)], None),
]


@pytest.mark.parametrize("name,steps,expect", CASES, ids=[c[0] for c in CASES])
def test_command(card, issued, name, steps, expect):
    from .cardkit import throwaway_ca
    data = b""
    for i, (apdu_hex, sw) in enumerate(steps):
        rapdu = card.transmit(bytes.fromhex(apdu_hex))
        got = int.from_bytes(rapdu[-2:], "big")
        assert got == sw, f"step {i} {apdu_hex[:20]}…: {got:04X} != {sw:04X}"
        data = rapdu[:-2]
    if sw != 0x9000:
        assert data == b"", "an error status carries no data"
    if expect is None:
        return
    if isinstance(expect, bytes):
        assert data == expect
        return
    refs = {"auth": issued.certs["auth"], "sign": issued.certs["sign"],
            "auth_ca": throwaway_ca("auth").der, "sign_ca": throwaway_ca("sign").der}
    if expect == "token":
        assert len(data) == 160 and data[:32] == b"JPKIAPICCTOKEN2".ljust(32)
    elif expect == "sig256":
        assert len(data) == 256
    elif expect.startswith("len"):
        assert len(data) == int(expect[3:]) and data != bytes(len(data))
    elif expect == "record":  # a BER OCTET STRING, parsed by asn1crypto
        from asn1crypto.core import OctetString
        assert OctetString.load(data).native.decode().startswith("OJ") and len(data) == 17
    else:
        ref, _, rng = expect.partition("[")
        refs["auth_ef"] = refs["auth"] + bytes(L.CERT_EF_SIZE - len(refs["auth"]))
        stop = int(rng.strip(":]"), 0) if rng else None
        assert data == refs[ref][:stop]
