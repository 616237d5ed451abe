"""Migration card1 on a register that already has people and cards: every resident gets a
distinct, valid synthetic individual number, and the resident-registry PIN hash leaves the
cards table (the card's 住基AP keeps the PIN), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from openjpki.rules.individual_number import is_synthetic
from openjpki.store.migrate import downgrade, upgrade
from openjpki.store.testing import open_test_store


def _people(conn, n: int) -> None:
    for i in range(n):
        conn.execute(text(
            "INSERT INTO residents (name, address, birth_date, sex, household_id, "
            "relationship, honseki_here, adult_ward, foreign_resident, municipality_code, "
            "prefecture, municipality, on_register, registered_at, updated_at) VALUES "
            "(:name, '埼玉県川口市青木1', '1980-05-15', 1, :hh, 'head', false, false, false, "
            "'112038', '埼玉県', '川口市', true, '2025-04-01 01:00:00+00', "
            "'2025-04-01 01:00:00+00')"), {"name": f"移行　{i}", "hh": f"H{i:05d}"})


def test_card1_numbers_existing_residents_and_drops_the_pin_hash(backend, tmp_path):
    with open_test_store(backend, tmp_path, migrate=False) as store:
        upgrade(store.engine, "p002")
        assert "card_pin_hash" in {c["name"] for c in inspect(store.engine).get_columns("cards")}
        with store.engine.begin() as conn:
            _people(conn, 25)
        upgrade(store.engine, "card1")
        cols = {c["name"] for c in inspect(store.engine).get_columns("cards")}
        assert "card_pin_hash" not in cols and "security_code_enc" in cols
        with store.engine.connect() as conn:
            numbers = conn.execute(text("SELECT individual_number FROM residents")).scalars().all()
        assert len(numbers) == 25 == len(set(numbers))
        assert all(is_synthetic(n) for n in numbers)
        downgrade(store.engine, "p002")  # and back
        assert "individual_number" not in {
            c["name"] for c in inspect(store.engine).get_columns("residents")}
