"""A SoftHSM2 token directory of the test run's own (SOFTHSM2_CONF pointing at a temporary
configuration), never the system's: tokens are made with softhsm2-util, Debian's tool."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"
SO_PIN = "13579111"
SKIP_REASON = "SoftHSM2 is not installed (scripts/setup --test installs Debian's softhsm2)"


def available() -> bool:
    return Path(MODULE).exists() and shutil.which("softhsm2-util") is not None


@dataclass
class SoftHsm:
    root: Path
    conf: Path
    module: str = MODULE
    pin: str = PIN
    labels: list[str] = field(default_factory=list)

    @classmethod
    def make(cls, root: Path) -> "SoftHsm":
        tokens = root / "tokens"
        tokens.mkdir(parents=True, mode=0o700)
        conf = root / "softhsm2.conf"
        conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                        "log.level = ERROR\nslots.removable = false\n")
        return cls(root, conf)

    def new_token(self, label: str | None = None) -> str:
        """A new, initialised token (its PIN is :data:`PIN`). A process that loaded the
        library before sees it only after C_Initialize again: make tokens for subprocesses,
        or before the first in-process use."""
        label = label or f"t-{secrets.token_hex(4)}"
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--pin", self.pin, "--so-pin", SO_PIN], env=self.env(),
                       check=True, capture_output=True)
        self.labels.append(label)
        return label

    def env(self, pin: str | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf), **extra)
        env.pop("OPENJPKI_PKCS11_PIN", None)
        if pin is not None:
            env["OPENJPKI_PKCS11_PIN"] = pin
        return env

    def cli(self, home: Path, *args: str, pin: str | None = None, stdin: str | None = None,
            env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), *args],
                              env=env or self.env(pin), input=stdin, capture_output=True,
                              text=True, timeout=timeout)

    def list_objects(self, label: str) -> str:
        r = subprocess.run(["pkcs11-tool", "--module", self.module, "--token-label", label,
                            "--login", "--pin", self.pin, "--list-objects"], env=self.env(),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout
