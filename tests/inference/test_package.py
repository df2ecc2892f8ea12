import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "marketplace" / "inference"


def test_the_package_imports_nothing_of_the_web_app():
    code = ("import sys, marketplace.inference; "
            "bad = [m for m in ('flask', 'sqlalchemy', 'pandas', 'redis') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parents[1])


def test_modules_stay_small():
    for module in PACKAGE.glob("*.py"):
        assert len(module.read_text().splitlines()) < 400, module.name
