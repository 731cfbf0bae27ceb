"""Every setting the project reads from the environment, read here and nowhere else.

All paths derive from one folder, ``PIXIE_HOME``, so that a test, a demo and a production
deployment differ by one variable and never write into each other's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

WORLD_SCALES = ("tiny", "demo", "large")
SOURCES = ("world", "landing", "replay")

DEFAULT_HOME = "./data"
DEFAULT_WORLD_SCALE = "demo"
DEFAULT_WORLD_SEED = 7
DEFAULT_START_DAY = "2026-11-01"
DEFAULT_SOURCE = "world"
# Where ``make ui`` serves the two UIs (the Makefile's DAGSTER_PORT and MLFLOW_PORT defaults).
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
DEFAULT_MLFLOW_URL = "http://127.0.0.1:5000"


class SettingsError(ValueError):
    """A setting has a value the project cannot use; the message names the variable."""


_DASK_LOCAL = re.compile(r"^local:([1-9]\d*)$")
_DASK_REMOTE = re.compile(r"^(tcp|tls)://[^\s/:]+:\d+$")


@dataclass(frozen=True)
class DaskSpec:
    """Where shards of heavy work run (``PIXIE_DASK``): in this process (neither field), on a
    local cluster of ``workers`` processes, or on the scheduler at ``address``."""

    workers: int | None = None
    address: str | None = None

    @property
    def in_process(self) -> bool:
        return self.workers is None and self.address is None


def parse_dask_setting(text: str) -> DaskSpec:
    """``PIXIE_DASK``: empty, ``local:N`` or ``tcp://host:port``; anything else is an error
    naming the value."""
    text = text.strip()
    if not text:
        return DaskSpec()
    if local := _DASK_LOCAL.match(text):
        return DaskSpec(workers=int(local[1]))
    if _DASK_REMOTE.match(text):
        return DaskSpec(address=text)
    raise SettingsError(
        f"PIXIE_DASK={text!r} is not empty, local:N (N ≥ 1 worker processes) or "
        "tcp://host:port (a running Dask scheduler)"
    )


@dataclass(frozen=True)
class Settings:
    """Resolved settings; paths are absolute."""

    home: Path
    world_scale: str = DEFAULT_WORLD_SCALE
    world_seed: int = DEFAULT_WORLD_SEED
    start_day: date = date.fromisoformat(DEFAULT_START_DAY)
    source: str = DEFAULT_SOURCE
    landing: Path | None = None  # PIXIE_LANDING: your own data's folder (default under home)
    dask: str = ""  # PIXIE_DASK: where shards run (empty: in process)

    def __post_init__(self) -> None:
        if self.world_scale not in WORLD_SCALES:
            raise SettingsError(
                f"PIXIE_WORLD_SCALE={self.world_scale!r} is not one of {', '.join(WORLD_SCALES)}"
            )
        if self.source not in SOURCES:
            raise SettingsError(f"PIXIE_SOURCE={self.source!r} is not one of {', '.join(SOURCES)}")
        parse_dask_setting(self.dask)
        object.__setattr__(self, "home", Path(self.home).expanduser().resolve())
        if self.landing:
            object.__setattr__(self, "landing", Path(self.landing).expanduser().resolve())

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        seed_text = env.get("PIXIE_WORLD_SEED", str(DEFAULT_WORLD_SEED))
        try:
            seed = int(seed_text)
        except ValueError:
            raise SettingsError(f"PIXIE_WORLD_SEED={seed_text!r} is not an integer") from None
        day_text = env.get("PIXIE_START_DAY", DEFAULT_START_DAY)
        try:
            start_day = date.fromisoformat(day_text)
        except ValueError:
            raise SettingsError(
                f"PIXIE_START_DAY={day_text!r} is not a date of the form YYYY-MM-DD"
            ) from None
        return cls(
            home=Path(env.get("PIXIE_HOME", DEFAULT_HOME)),
            world_scale=env.get("PIXIE_WORLD_SCALE", DEFAULT_WORLD_SCALE),
            world_seed=seed,
            start_day=start_day,
            source=env.get("PIXIE_SOURCE", DEFAULT_SOURCE),
            landing=Path(env["PIXIE_LANDING"]) if env.get("PIXIE_LANDING") else None,
            dask=env.get("PIXIE_DASK", ""),
        )

    @property
    def dask_spec(self) -> DaskSpec:
        return parse_dask_setting(self.dask)

    # Every path the project writes, in one place.
    @property
    def world_dir(self) -> Path:
        """Contract tables of the synthetic world (what a user's own data would look like)."""
        return self.home / "world"

    @property
    def truth_dir(self) -> Path:
        """Hidden ground truth, kept apart: only the simulator and the evaluation read it."""
        return self.home / "truth"

    @property
    def graph_dir(self) -> Path:
        return self.home / "graph"

    @property
    def candidates_dir(self) -> Path:
        return self.home / "candidates"

    @property
    def landing_dir(self) -> Path:
        """Where serving logs land: your service's folder (PIXIE_LANDING) in landing and replay
        mode, the simulator's ``$PIXIE_HOME/landing`` in world mode."""
        if self.landing is not None and self.source != "world":
            return self.landing
        return self.home / "landing"

    @property
    def duckdb_path(self) -> Path:
        return self.home / "pixie.duckdb"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    def graph_day_dir(self, day: str) -> Path:
        return self.graph_dir / f"day={day}"

    def candidates_partition_dir(self, day: str, client: str) -> Path:
        return self.candidates_dir / f"day={day}" / f"client={client}"


def get_settings() -> Settings:
    return Settings.from_env()


_BASE_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


def parse_base_url(variable: str, text: str) -> str:
    """A UI's base address without its trailing ``/``, so links append ``/runs/…`` or ``/#/…``
    to it; anything but an ``http(s)://host[:port][/path]`` is an error naming the variable."""
    url = text.strip().rstrip("/")
    if not _BASE_URL.match(url):
        raise SettingsError(
            f"{variable}={text!r} is not a base address like http://127.0.0.1:3000 "
            "(http or https, host and port, optionally a path; no query or fragment)"
        )
    return url


@dataclass(frozen=True)
class UiUrls:
    """Where people open the Dagster UI (``PIXIE_DAGSTER_URL``) and the MLflow UI
    (``PIXIE_MLFLOW_URL``): the base of every link between them (Dagster metadata to MLflow
    runs and versions, model versions to the Dagster runs that made them).

    Not part of ``Settings``: these name where the UIs are served, not which ``PIXIE_HOME`` a
    run writes, so they are read from the environment of the process that writes a link, and
    a run pointed at another home keeps the deployment's UIs."""

    dagster: str = DEFAULT_DAGSTER_URL
    mlflow: str = DEFAULT_MLFLOW_URL

    def __post_init__(self) -> None:
        object.__setattr__(self, "dagster", parse_base_url("PIXIE_DAGSTER_URL", self.dagster))
        object.__setattr__(self, "mlflow", parse_base_url("PIXIE_MLFLOW_URL", self.mlflow))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UiUrls:
        """An unset or empty variable means the ``make ui`` default."""
        env = os.environ if env is None else env
        return cls(
            dagster=env.get("PIXIE_DAGSTER_URL") or DEFAULT_DAGSTER_URL,
            mlflow=env.get("PIXIE_MLFLOW_URL") or DEFAULT_MLFLOW_URL,
        )


def dagster_instance_yaml(dagster_home: Path) -> str:
    """The project's dagster.yaml with SQLite run, event and schedule storage rooted in
    ``dagster_home``, so every process of this deployment shares one history."""
    project = (PROJECT_ROOT / "dagster.yaml").read_text()
    storage = f"\nstorage:\n  sqlite:\n    base_dir: {json.dumps(str(dagster_home / 'storage'))}\n"
    return project.rstrip("\n") + "\n" + storage


# First line of a dagster.yaml this project wrote, with the digest of what follows it: a file
# still matching its digest is ours to update; any other file is the user's, never overwritten.
GENERATED_MARK = "# written by pixie_assets from the project's dagster.yaml; sha256 of the rest: "


def _generated(body: str) -> str:
    return f"{GENERATED_MARK}{hashlib.sha256(body.encode()).hexdigest()}\n{body}"


def _ours_unedited(text: str) -> bool:
    first, _, body = text.partition("\n")
    return first.startswith(GENERATED_MARK) and first == _generated(body).partition("\n")[0]


def instance_differences(theirs: str, ours: str) -> list[str]:
    """Top-level keys of two dagster.yaml texts that differ, in words."""
    import yaml

    a, b = yaml.safe_load(theirs) or {}, yaml.safe_load(ours) or {}
    if not isinstance(a, dict):
        return ["it is not a mapping of settings"]
    words = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            words.append(f"`{key}` only in yours")
        elif key not in a:
            words.append(f"`{key}` missing (the project sets it)")
        elif a[key] != b[key]:
            words.append(f"`{key}` differs")
    return words


def ensure_dagster_home(
    env: Mapping[str, str] | None = None, warn: Callable[[str], None] | None = None
) -> Path:
    """Create ``$DAGSTER_HOME`` (default ``$PIXIE_HOME/dagster_home``) holding the project's
    instance configuration, and return it. An existing ``dagster.yaml`` that this project did
    not write (or that was edited since) is the user's: it is used as it is, and ``warn`` (to
    stderr by default) says how it differs from the project's."""
    env = os.environ if env is None else env
    settings = Settings.from_env(env)
    home = Path(env.get("DAGSTER_HOME") or settings.dagster_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = _generated(dagster_instance_yaml(home))
    current = target.read_text() if target.exists() else None
    if current is None or (_ours_unedited(current) and current != wanted):
        target.write_text(wanted)
    elif current != wanted and not _ours_unedited(current):
        differences = instance_differences(current, wanted)
        if differences:
            say = warn or (lambda message: print(message, file=sys.stderr))
            say(
                f"{target} is not the project's instance configuration "
                f"({'; '.join(differences)}): using it unchanged. The project's pools (duckdb, "
                "mlflow: one writer each) and run monitoring come from `concurrency` and "
                f"`run_monitoring`; remove the file to get the project's."
            )
    return home


def main(argv: list[str] | None = None) -> None:
    """``python -m pixie_assets.core.settings dagster-home``: create ``$DAGSTER_HOME`` (default
    ``$PIXIE_HOME/dagster_home``) with the project's instance configuration and print its path,
    for shells that run Dagster commands by hand (``export DAGSTER_HOME=$(…)``)."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["dagster-home"]:
        raise SystemExit("usage: python -m pixie_assets.core.settings dagster-home")
    print(ensure_dagster_home())


if __name__ == "__main__":
    main()
