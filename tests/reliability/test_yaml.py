"""YAML input is bounded: alias expansion (item 5), nesting (item 11), tags refused (item 14)."""

from __future__ import annotations

import pytest

from .helpers import BASE, invoke, make_project, rejected, rejected_in_time

FAST = 5  # seconds: the bound a subprocess case must end within (they take well under 2 s)


ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb(tmp_path):
    manifest = make_project(tmp_path, BASE + "vars:\n  bomb:\n    " + ALIAS_BOMB.replace("\n", "\n    ").rstrip() + "\n")
    assert len(ALIAS_BOMB) < 900
    err, _ = rejected_in_time("validate", "-f", str(manifest), "--no-preflight", timeout=FAST)
    assert "deploy.yaml:" in err and "expands to more than 100,000 values (through YAML aliases?)" in err
    line = err.removeprefix("error: ").split(":")[1:3]
    assert all(part.isdigit() for part in line), err


@pytest.mark.parametrize("depth", [100, 5000])
def test_deeply_nested_yaml(tmp_path, depth):
    manifest = make_project(tmp_path, BASE + "vars:\n  deep: " + "[" * depth + "]" * depth + "\n")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert "deploy.yaml:14:" in err and "nested too deeply (at most 64 levels)" in err


@pytest.mark.parametrize("value, line_col, tag", [
    ("!!python/object:os.system {}", "14:6", "!!python/object:os.system"),
    ("!!python/name:os.system", "14:6", "!!python/name:os.system"),
    ("!custom {a: 1}", "14:6", "!custom"),
    ("[!env HOME]", "14:7", "!env"),
    ("!!binary aGVsbG8=", "14:6", "!!binary"),
])
def test_yaml_tags_are_refused(tmp_path, value, line_col, tag):
    manifest = make_project(tmp_path, BASE + f"vars:\n  x: {value}\n")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert f"deploy.yaml:{line_col}: YAML tag {tag} is not supported" in err


def test_standard_tags_still_work(tmp_path):
    manifest = make_project(tmp_path, BASE + "    runtime_version: !!str 3.12\n")
    result = invoke("validate", "-f", str(manifest), "--no-preflight")
    assert result.exit_code == 0, result.output


def test_deep_nesting_is_refused_in_time(tmp_path):
    # PyYAML's scanner is quadratic in open flow brackets: 20,000 took minutes.
    manifest = make_project(tmp_path, BASE + "vars:\n  deep: " + "[" * 20000 + "]" * 20000 + "\n")
    err, _ = rejected_in_time("validate", "-f", str(manifest), "--no-preflight", timeout=FAST)
    assert "deploy.yaml:14:" in err and "nested too deeply (at most 64 levels)" in err


def test_libyaml_and_pure_python_give_the_same_values_and_positions(monkeypatch):
    """The fast loader is an optimisation only: values, positions, duplicates and merges agree."""
    from deployer.manifest import yamlpos

    text = ("base: &b {runtime: '3.11', packages: [pandas]}\nmodels:\n  - name: m\n    <<: *b\n"
            "    features: [{name: A, type: float}, {name: \"b c\", type: int}]\n    n: 0x1F\n"
            "    when: 2024-01-02\n    off: ~\n    dup: 1\n    dup: 2\n    text: |\n      two\n      lines\n")
    fast = yamlpos.parse(text)
    monkeypatch.setattr(yamlpos, "_FAST_LOADER", None)
    pure = yamlpos.parse(text)
    assert fast.data == pure.data and fast.data["models"][0]["runtime"] == "3.11"
    assert fast.positions == pure.positions and fast.duplicates == pure.duplicates


def test_an_alias_repeating_many_values_is_refused_but_many_written_values_are_not():
    from deployer.manifest import yamlpos

    written = "items:\n" + "".join(f"  - {{a: {i}, b: {i}}}\n" for i in range(40_000))
    assert len(yamlpos.parse(written).data["items"]) == 40_000  # 120,000 values, written out
    repeated = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 101) + "]\n"
    with pytest.raises(yamlpos.YAMLSyntaxError, match="expands to more than 100,000 values"):
        yamlpos.parse(repeated)


@pytest.mark.parametrize("text", [
    "a: " + "[" * 64 + "]" * 64 + "\n",  # at the limit
    "a: " + "[" * 65 + "]" * 65 + "\n",  # one over
    "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(70)),  # block mappings
    "x: &a " + "[" * 60 + "1" + "]" * 60 + "\ny: [*a, *a]\n",  # an alias is no deeper than its anchor
    "x: &a " + "[" * 30 + "1" + "]" * 30 + "\ny: " + "[" * 40 + "*a" + "]" * 40 + "\n",
    "- " * 70 + "x\n", "- " * 2000 + "x\n", "hello\n",
    "b: &b {r: 1, p: [x]}\nm:\n  - <<: *b\n    r: 2\n  - <<: [*b, {q: 3}]\n    r: 4\n",
    "a: {k: 1, k: 2}\nb: [1, 1.5, yes, ~, 2024-01-02, '1', 1]\nc: !!str 1\nd: !!binary aGk=\n",
])
def test_libyaml_depth_check_on_nodes_matches_the_event_check(monkeypatch, text):
    """libyaml's nodes are checked for depth after composing (no second parse): the same
    values, positions and errors as the pure-Python loader, which checks the events."""
    from deployer.manifest import yamlpos

    def outcome():
        try:
            parsed = yamlpos.parse(text)
            return parsed.data, parsed.positions, parsed.duplicates
        except yamlpos.YAMLSyntaxError as exc:
            return exc.message, exc.line, exc.col

    fast = outcome()
    monkeypatch.setattr(yamlpos, "_FAST_LOADER", None)
    assert outcome() == fast


def test_positions_recorded_after_the_build_are_the_builds():
    """Positions are walked from the nodes only when asked for; a shadowed duplicate's keys,
    aliases and merges are placed exactly as when every value recorded its own while built."""
    from deployer.manifest import yamlpos

    parsed = yamlpos.parse("a: &x {b: 1}\nc: *x\na: {d: [2, 3]}\ne:\n  <<: *x\n  f: 4\n")
    assert parsed.duplicates == [((), "a", 3, 1)]
    assert parsed.positions == {
        (): (1, 1), (("<key>", "a"),): (3, 1), ("a",): (3, 4), ("a", ("<key>", "b")): (1, 8),
        ("a", "b"): (1, 11), (("<key>", "c"),): (2, 1), ("c",): (1, 4), ("c", ("<key>", "b")): (1, 8),
        ("c", "b"): (1, 11), ("a", ("<key>", "d")): (3, 5), ("a", "d"): (3, 8), ("a", "d", 0): (3, 9),
        ("a", "d", 1): (3, 12), (("<key>", "e"),): (4, 1), ("e",): (5, 3), ("e", ("<key>", "b")): (1, 8),
        ("e", "b"): (1, 11), ("e", ("<key>", "f")): (6, 3), ("e", "f"): (6, 6)}
    assert parsed.where(("a", "b", "zz")) == (1, 11) and parsed.key_where(("e",), "f") == (6, 3)


@pytest.mark.parametrize("character", ["\x1a", "\x07", "\x7f"])
@pytest.mark.parametrize("pure", [False, True])
def test_a_control_character_is_located(tmp_path, monkeypatch, character, pure):
    from deployer.manifest import yamlpos

    if pure:  # PyYAML's own reader refuses it while the loader is made
        monkeypatch.setattr(yamlpos, "_FAST_LOADER", yamlpos.yaml.SafeLoader)
    manifest = make_project(tmp_path, BASE.replace("version: 1", f"version: 1 {character}", 1))
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert "deploy.yaml:1:" in err and "not valid YAML" in err, err
    assert f"#x{ord(character):04x}" in err or "special characters" in err or "control" in err, err
