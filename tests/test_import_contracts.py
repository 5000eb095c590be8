"""DESIGN.md's import direction, checked by import-linter's contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports is not None, "import-linter is not installed in this environment"
    result = subprocess.run(
        [lint_imports, "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_contracts_cover_every_layer() -> None:
    """A new top-level part must come with a contract, or the check above proves nothing."""
    text = (ROOT / "pyproject.toml").read_text()
    for layer in (
        "protocol",
        "analysis",
        "simulated_hardware",
        "drivers",
        "planners",
        "orchestrator",
        "server",
    ):
        assert f'"voltlab.{layer}"' in text, layer
