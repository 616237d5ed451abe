"""Postal codes (郵便番号) for the demo's and the sandbox's made-up residents, so that their
letters carry the 〒 line a real register would give them.

They are synthetic but plausible: the town of the address picks a code from the
municipality's own range when the municipality is the default one (川口市, 332–334), else the
prefecture's first three digits (those of its capital's area) and four digits derived from the
town's name, always the same for the same address. Nobody is meant to mail anything to them.
"""

from __future__ import annotations

import hashlib
import re

# 川口市 (埼玉県): the towns the demo and the sandbox use, in the city's 332–334 range.
KAWAGUCHI = {
    "西川口": "332-0021", "青木": "332-0031", "本町": "332-0012", "栄町": "332-0017",
    "幸町": "332-0016", "川口": "332-0015", "芝": "333-0866", "安行": "334-0071",
    "戸塚": "333-0811",
}

# The first three digits of each prefecture's capital area.
PREFECTURE_PREFIX = {
    "北海道": "060", "青森県": "030", "岩手県": "020", "宮城県": "980", "秋田県": "010",
    "山形県": "990", "福島県": "960", "茨城県": "310", "栃木県": "320", "群馬県": "371",
    "埼玉県": "330", "千葉県": "260", "東京都": "160", "神奈川県": "231", "新潟県": "950",
    "富山県": "930", "石川県": "920", "福井県": "910", "山梨県": "400", "長野県": "380",
    "岐阜県": "500", "静岡県": "420", "愛知県": "460", "三重県": "514", "滋賀県": "520",
    "京都府": "600", "大阪府": "530", "兵庫県": "650", "奈良県": "630", "和歌山県": "640",
    "鳥取県": "680", "島根県": "690", "岡山県": "700", "広島県": "730", "山口県": "753",
    "徳島県": "770", "香川県": "760", "愛媛県": "790", "高知県": "780", "福岡県": "810",
    "佐賀県": "840", "長崎県": "850", "熊本県": "860", "大分県": "870", "宮崎県": "880",
    "鹿児島県": "890", "沖縄県": "900",
}

_DISTRICT = re.compile(r"^(?P<town>.+?)[一二三四五六七八九十〇0-9０-９]+丁目")


def town_of(address: str, prefecture: str, municipality: str) -> str:
    """The town (町域) of an address in this municipality: 青木 of 埼玉県川口市青木二丁目1番1号."""
    rest = address.removeprefix(prefecture).removeprefix(municipality)
    m = _DISTRICT.match(rest)
    return m.group("town") if m else rest


def synthetic_postal_code(prefecture: str, municipality: str, address: str) -> str:
    """A plausible 郵便番号 (NNN-NNNN) for ``address`` in ``prefecture`` ``municipality``."""
    town = town_of(address, prefecture, municipality)
    if prefecture == "埼玉県" and municipality == "川口市" and town in KAWAGUCHI:
        return KAWAGUCHI[town]
    prefix = PREFECTURE_PREFIX.get(prefecture, "100")
    digest = hashlib.sha256(f"{prefecture}{municipality}{town}".encode()).digest()
    return f"{prefix}-{int.from_bytes(digest[:4], 'big') % 10000:04d}"


__all__ = ["synthetic_postal_code", "town_of"]
