"""Where the authorities' keys and options live in the home directory.

- ``<home>/keys/<kind>-<generation>.key``: each authority's RSA key, an encrypted PKCS#8 PEM
  file (mode 0600). The database only names the file; key material never enters the store,
  a log line or an API answer.
- The passphrase of those files: ``$OPENJPKI_CA_PASSPHRASE`` when set, otherwise the file
  ``<home>/keys/passphrase``, created by ``init`` (mode 0600, a random 256-bit token). An
  operator who keeps the passphrase elsewhere sets the variable and deletes the file.
- ``<home>/openjpki.toml``, table ``[pki]``: the profile options ``init`` was given
  (``environment``, ``crl_url_base``, ``ocsp_url``) and the validity of CRLs and OCSP
  responses (``crl_validity_hours``, default 24; ``ocsp_validity_minutes``, default 60), and
  what OCSP answers for a serial never issued (``ocsp_unknown``: ``unknown``, the default, or
  ``unauthorized``). The operator may edit it; other tables of the file are left alone. Where
  new keys are made: ``key_store`` (``file``, the default, or ``pkcs11``) with
  ``pkcs11_module`` (the library's path) and ``pkcs11_token`` (the token label) for a token
  (:mod:`openjpki.services.keystore`).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from openjpki.pki import FileSigner, ProfileOptions

PASSPHRASE_ENV = "OPENJPKI_CA_PASSPHRASE"
PASSPHRASE_FILE = "passphrase"
CONFIG_TABLE = "pki"


class SetupError(Exception):
    """The home is not usable for the authorities (no passphrase, unreadable key …)."""


def key_file_name(kind: str, generation: int) -> str:
    return f"{kind}-{generation}.key"


def ca_passphrase(keys_dir: Path, *, create: bool = False) -> bytes:
    """The passphrase of the CA key files ($OPENJPKI_CA_PASSPHRASE, else keys/passphrase;
    ``create`` makes the file when neither exists)."""
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode()
    path = keys_dir / PASSPHRASE_FILE
    if not path.exists():
        if not create:
            raise SetupError(
                f"no CA passphrase: set ${PASSPHRASE_ENV} or run `openjpki init` ({path} is missing)")
        keys_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(keys_dir, 0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
    value = path.read_text().strip()
    if not value:
        raise SetupError(f"the CA passphrase file {path} is empty")
    return value.encode()


_loaded: dict[bytes, FileSigner] = {}


def load_key(path: Path, passphrase: bytes) -> FileSigner:
    """``FileSigner.load``, remembered for the life of the process: decrypting a key file is
    deliberately slow (PBKDF2), and every service of the process would do it again. Keyed by
    a digest of the file's content and the passphrase, so a replaced file or a wrong
    passphrase is never served from memory."""
    data = Path(path).read_bytes()
    key = hashlib.sha256(data + b"\0" + passphrase).digest()
    signer = _loaded.get(key)
    if signer is None:
        signer = FileSigner.load(path, passphrase)
        _loaded[key] = signer
    return signer


def create_or_load_key(path: Path, passphrase: bytes) -> FileSigner:
    """The key at ``path``, generated first when there is none. Generation writes a private
    temporary file and links it into place, so two processes racing get the same key."""
    if path.exists():
        return load_key(path, passphrase)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    FileSigner.generate(tmp, passphrase)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process linked its key first: use that one
    finally:
        tmp.unlink(missing_ok=True)
    return load_key(path, passphrase)


@dataclass(frozen=True)
class PkiConfig:
    """The ``[pki]`` table of the home's configuration file."""

    options: ProfileOptions = ProfileOptions()
    crl_validity: timedelta = timedelta(hours=24)
    ocsp_validity: timedelta = timedelta(hours=1)
    key_store: str = "file"
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    # What a serial no authority of the store issued gets: a signed ``unknown`` (RFC 6960), or
    # the unsigned ``unauthorized`` answer (RFC 5019 §2.2.3), as fast as a stored response.
    ocsp_unknown: str = "unknown"

    def with_keys(self, key_store: str, module: str | None, token: str | None) -> "PkiConfig":
        return replace(self, key_store=key_store, pkcs11_module=module, pkcs11_token=token)

    def with_options(self, **changes: Any) -> "PkiConfig":
        return replace(self, options=replace(self.options, **changes))


def load_pki_config(config_file: Path) -> PkiConfig:
    """Read ``[pki]`` (defaults when the file or the table is absent). SetupError when the
    file is not TOML or a value is unusable."""
    if not config_file.exists():
        return PkiConfig()
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SetupError(f"{config_file} is not valid TOML: {e}") from None
    table = data.get(CONFIG_TABLE, {})
    if not isinstance(table, dict):
        raise SetupError(f"[{CONFIG_TABLE}] in {config_file} must be a table")
    try:
        options = ProfileOptions(
            environment=table.get("environment", "test"),
            crl_url_base=table.get("crl_url_base") or None,
            ocsp_url=table.get("ocsp_url") or None,
        )
        crl_hours = float(table.get("crl_validity_hours", 24))
        ocsp_minutes = float(table.get("ocsp_validity_minutes", 60))
        if not (0 < crl_hours <= 24 * 366 and 1 <= ocsp_minutes <= 60 * 24 * 31):
            raise ValueError("crl_validity_hours or ocsp_validity_minutes out of range")
        key_store = str(table.get("key_store", "file"))
        if key_store not in ("file", "pkcs11"):
            raise ValueError(f"key_store must be file or pkcs11 (not {key_store!r})")
        module = table.get("pkcs11_module") or None
        token = table.get("pkcs11_token") or None
        if key_store == "pkcs11" and not (module and token):
            raise ValueError("key_store = pkcs11 needs pkcs11_module and pkcs11_token")
        ocsp_unknown = table.get("ocsp_unknown", "unknown")
        if ocsp_unknown not in ("unknown", "unauthorized"):
            raise ValueError("ocsp_unknown must be \"unknown\" or \"unauthorized\"")
    except (TypeError, ValueError) as e:
        raise SetupError(f"[{CONFIG_TABLE}] in {config_file}: {e}") from None
    return PkiConfig(options, timedelta(hours=crl_hours), timedelta(minutes=ocsp_minutes),
                     key_store=key_store, pkcs11_module=module, pkcs11_token=token,
                     ocsp_unknown=ocsp_unknown)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_pki_table(config: PkiConfig) -> str:
    o = config.options
    lines = [
        f"[{CONFIG_TABLE}]",
        "# test: JPKI-TEST names and test policy OIDs; production: the real ones (fixed at init)",
        f"environment = {_toml_string(o.environment)}",
        "# HTTP URLs put into end-entity certificates (empty: only the faithful directoryName)",
        f"crl_url_base = {_toml_string(o.crl_url_base or '')}",
        f"ocsp_url = {_toml_string(o.ocsp_url or '')}",
        f"crl_validity_hours = {config.crl_validity / timedelta(hours=1):g}",
        f"ocsp_validity_minutes = {config.ocsp_validity / timedelta(minutes=1):g}",
        "# where new authority keys are made: file (encrypted files in keys/) or pkcs11",
        f"key_store = {_toml_string(config.key_store)}",
    ]
    if config.pkcs11_module or config.pkcs11_token:
        lines += [f"pkcs11_module = {_toml_string(config.pkcs11_module or '')}",
                  f"pkcs11_token = {_toml_string(config.pkcs11_token or '')}"]
    return "\n".join(lines) + "\n"


_TABLE_HEADER = re.compile(r"^\s*\[")


def save_pki_config(config_file: Path, config: PkiConfig) -> None:
    """Write the ``[pki]`` table, keeping every other table of the file as it was."""
    text = config_file.read_text(encoding="utf-8") if config_file.exists() else ""
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if _TABLE_HEADER.match(line):
            inside = line.strip().startswith(f"[{CONFIG_TABLE}]")
        if not inside:
            kept.append(line)
    head = "\n".join(kept).rstrip()
    new = (head + "\n\n" if head else "") + render_pki_table(config)
    config_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = config_file.with_name(config_file.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, config_file)
