"""The README's commands and manifest reference stay true."""

import re
from pathlib import Path

from deployer.manifest.reference import END, START, markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README, re.S)


def test_reference_matches_schema():
    section = README[README.index(START): README.index(END) + len(END)]
    assert section == markdown(), "run: python -m deployer.manifest.reference --write README.md"


def test_two_commands_on_top():
    main, tests = commands()[:2]
    assert README.index(main) < README.index("## Why")
    assert "deployer apply --auto-approve" in main and "predict(feature_1, feature_2)" in main
    assert tests.endswith("-m pytest -q")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    install, run = commands()[1].split(" && ")[1:]
    assert 'pip install --quiet -e ".[test]"' in ci and install.endswith('pip install -e ".[test]"')
    assert run in ci
