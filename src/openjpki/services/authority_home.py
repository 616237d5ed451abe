"""The authorities of one OpenJPKI home (``--home``/``--database-url``): what ``init``,
``serve`` and the ``cert``/``crl`` commands open."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

from sqlalchemy.engine import make_url

from openjpki.config import Settings
from openjpki.private_home import claim_new_home
from openjpki.services.authority import AuthorityService, NotInitialised, Roots, initialise
from openjpki.services.platform.keys import ensure_key
from openjpki.services.authority_setup import (
    PkiConfig, ca_passphrase, load_pki_config, save_pki_config,
)
from openjpki.services.keystore import FileKeys, HomeKeys, KeyStoreKind, TokenKeys
from openjpki.store import Store
from openjpki.store.schema import schema_version

_UNSET = object()


def home_keys(settings: Settings, config: PkiConfig, *, create: bool = False) -> HomeKeys:
    """The key store of the home as ``[pki]`` describes it (files unless key_store = pkcs11).
    The file passphrase and the token PIN are read only when a key is first used."""
    files = FileKeys(settings.keys_dir, lambda: ca_passphrase(settings.keys_dir, create=create))
    token = None
    if config.pkcs11_module and config.pkcs11_token:
        token = TokenKeys(config.pkcs11_module, config.pkcs11_token, settings.keys_dir)
    return HomeKeys(files, token, KeyStoreKind(config.key_store))


def initialise_home(settings: Settings, *, now: datetime, environment: Optional[str] = None,
                    crl_url_base: object = _UNSET, ocsp_url: object = _UNSET,
                    key_store: Optional[tuple[str, Optional[str], Optional[str]]] = None) -> Roots:
    """``openjpki init``: the store, the two authorities with their keys, and the ``[pki]``
    options in the home's configuration. Options not given keep their configured value; the
    environment is fixed once the roots exist. ``key_store``: (``"file"`` or ``"pkcs11"``,
    module, token label) — where the keys are made (default: as configured, else files)."""
    config = load_pki_config(settings.config_file)
    changes: dict = {}
    if key_store is not None:
        config = config.with_keys(*key_store)
    if environment is not None:
        changes["environment"] = environment
    if crl_url_base is not _UNSET:
        changes["crl_url_base"] = crl_url_base or None
    if ocsp_url is not _UNSET:
        changes["ocsp_url"] = ocsp_url or None
    if changes:
        config = config.with_options(**changes)
    claim_new_home(settings)  # the home is made 0700: see openjpki.private_home
    keys = home_keys(settings, config, create=True)
    store = Store.open(settings.effective_database_url)
    try:
        roots = initialise(store, settings.keys_dir, b"", now=now,
                           environment=config.options.environment, keys=keys)
    finally:
        store.dispose()
    ensure_key(settings.keys_dir, now)  # the platform API's encryption key, beside the CA keys
    if changes or key_store is not None or not settings.config_file.exists() \
            or not _has_pki_table(settings):
        save_pki_config(settings.config_file, config)
    return roots


def _has_pki_table(settings: Settings) -> bool:
    return "[pki]" in settings.config_file.read_text(encoding="utf-8")


def open_authorities(settings: Settings, *, config: Optional[PkiConfig] = None) -> AuthorityService:
    """The authority service of an initialised home. NotInitialised when ``init`` has not
    run (no schema or no authorities); the CA passphrase is read when a key is first used."""
    config = config or load_pki_config(settings.config_file)
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not Path(url.database).expanduser().exists():
        raise NotInitialised()  # do not leave an empty database behind
    store = Store.open(settings.effective_database_url)
    try:
        with store.engine.connect() as conn:
            initialised = schema_version(conn) is not None
    except Exception:  # noqa: BLE001 — no database there at all
        initialised = False
    if not initialised:
        store.dispose()
        raise NotInitialised()
    # A store made by an older version: bring it to the newest schema (a no-op when current).
    store.migrate()
    service = AuthorityService(
        store, keys_dir=settings.keys_dir,
        passphrase=lambda: ca_passphrase(settings.keys_dir),
        options=config.options, crl_validity=config.crl_validity,
        keys=home_keys(settings, config))
    try:
        service.authorities()  # NotInitialised early, not at the first request
    except NotInitialised:
        store.dispose()
        raise
    return service
