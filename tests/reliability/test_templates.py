"""Items 5, 9 and 11: templates are bounded and end quickly; values are data, never YAML."""

from __future__ import annotations

import pytest

from deployer.manifest.load import load_manifest

from .helpers import BASE, invoke, make_project, rejected, rejected_in_time

FAST = 5  # seconds: the bound a subprocess case must end within (they take well under 2 s)


TEMPLATES = {
    "nested-loops": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                     "more than 50,000 loop iterations and calls"),
    "lipsum": ("{{ lipsum(n=10**6) }}", "undefined variable lipsum"),
    "string-times": ("{{ 'a' * 10**10 }}", "larger than 16,000,000 characters"),
    "power": ("{{ 2 ** 100000000 }}", "too large a number"),
    "center": ("{{ 'a'|center(10**10) }}", "10000000000 is too large here"),
    "replace": ("{{ ('a' * 999999)|replace('', 'b' * 999999) }}", "larger than 16,000,000 characters"),
    "percent-width": ("{{ '%10000000000d' % 1 }}", "a format width of 1,000,000 or more"),
    "format-width": ("{{ '{:>10000000000}'.format(1) }}", "a format width of 1,000,000 or more"),
    "output-size": ("{% for i in range(99999) %}{{ 'a' * 999999 }}{% endfor %}",
                    "rendered manifest is larger than 16,000,000 characters"),
    "filter-fan-out": ("{{ ([range(100000)] * 49999)|map('sum')|list|length }}", "loop iterations and calls"),
    "concat-doubling": ("{% set ns = namespace(s='a') %}{% for i in range(99) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                        "larger than 16,000,000 characters"),
    "plus-doubling": ("{% set ns = namespace(s=['a']) %}{% for i in range(99) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                      "longer than 50,000 items"),
    "join-big-items": ("{{ (['a' * 999999] * 49999)|join }}", "larger than 16,000,000 characters"),
    "sum-of-lists": ("{{ ([[1] * 49999] * 49999)|sum(start=[])|length }}", "loop iterations and calls"),
    "indent-lines": ("{{ ('a\\n' * 400000)|indent(1000) }}", "larger than 16,000,000 characters"),
    "wordwrap-long": ("{{ ('a ' * 400000)|wordwrap(1) }}", "loop iterations and calls"),
    "macro-fan-out": ("{% macro m(n) %}{% if n %}{% set a = m(n-1) %}{% set b = m(n-1) %}{% endif %}{% endmacro %}{{ m(40) }}",
                      "more than 50,000 loop iterations and calls"),
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_unbounded_template(tmp_path, name):
    template, message = TEMPLATES[name]
    manifest = make_project(tmp_path, BASE.replace("schema: DATA_MODEL\n", f"schema: DATA_MODEL\n# {template}\n"))
    err, _ = rejected_in_time("validate", "-f", str(manifest), "--no-preflight", timeout=FAST)
    assert f"deploy.yaml:4: " in err and message in err, err


def test_a_value_reused_counts_its_full_size(tmp_path):
    template = "{% set a %}{{ 'x' * 300000 }}{% endset %}{% for i in range(20000) %}{{ a }}{% endfor %}"
    manifest = make_project(tmp_path, BASE + f'    comment: "{template}"\n')
    err, _ = rejected_in_time("validate", "-f", str(manifest), "--no-preflight", timeout=FAST)
    assert "deploy.yaml:13: the rendered manifest is larger than 16,000,000 characters" in err


def test_deeply_nested_template_expression(tmp_path):
    manifest = make_project(tmp_path, BASE + "# {{ " + "(" * 5000 + "1" + ")" * 5000 + " }}\n")
    err = rejected("validate", "-f", str(manifest), "--no-preflight")
    assert "deploy.yaml" in err and "nested too deeply" in err


def test_recursive_macro(tmp_path):
    text = BASE + "# {% macro m() %}{{ m() }}{% endmacro %}{{ m() }}\n"
    err = rejected("validate", "-f", str(make_project(tmp_path, text)), "--no-preflight")
    assert "deploy.yaml:13: template error: nested too deeply" in err


COMMENT = BASE + "    comment: owned by {{ var.owner }}\n"


INJECTION = "x\n    imports: [models/helpers.py]"


def test_newline_in_var_does_not_inject_keys(tmp_path):
    manifest = make_project(tmp_path, COMMENT)
    result = invoke("validate", "-f", str(manifest), "--no-preflight", "--var", f"owner={INJECTION}")
    assert result.exit_code == 0, result.output
    (model,) = load_manifest(manifest, overrides={"owner": INJECTION}).models
    assert model.imports == ()
    assert model.comment == f"owned by {INJECTION}"


def test_flow_mapping_value_does_not_inject_keys(tmp_path):
    text = BASE.replace("      - {name: FEATURE_2, type: float}", "      - {name: '{{ var.f }}', type: float}")
    manifest = make_project(tmp_path, text)
    result = invoke("validate", "-f", str(manifest), "--no-preflight", "--var", "f=X', type: string, y: '1")
    assert result.exit_code == 1
    assert "features[1].name:" in result.stderr and "type: string" in result.stderr


def test_plain_values_keep_their_yaml_type(tmp_path):
    text = BASE + ("    max_batch_size: {{ var.batch }}\n    packages: {{ var.pkgs }}\n"
                   "    tests:\n      - input: {FEATURE_1: 1, FEATURE_2: 2}\n"
                   "        expect: {{ var.expect | default(7.0) }}\n"
                   "vars: {pkgs: [pandas, 'numpy>=1.2']}\n")
    manifest = make_project(tmp_path, text)
    (model,) = load_manifest(manifest, overrides={"batch": "500"}).models
    assert model.max_batch_size == 500
    assert model.packages == ("pandas", "numpy>=1.2")
    assert model.tests[0].expect == 7.0
    (model,) = load_manifest(manifest, overrides={"batch": "500", "expect": "8.5"}).models
    assert model.tests[0].expect == 8.5


def test_comment_characters_in_a_value_are_kept(tmp_path):
    manifest = make_project(tmp_path, COMMENT)
    (model,) = load_manifest(manifest, overrides={"owner": "team # ml, see: wiki"}).models
    assert model.comment == "owned by team # ml, see: wiki"


MACRO = BASE.replace("version: 1\n", "version: 1\n{% macro feature(n) %}{name: {{ n }}, type: float}{% endmacro %}\n").replace(
    "      - {name: FEATURE_1, type: float}\n      - {name: FEATURE_2, type: float}\n",
    "      - {{ feature('FEATURE_1') }}\n      - {{ feature(var.f2) }}\n")


def test_a_macro_writes_yaml_and_its_values_stay_data(tmp_path):
    manifest = make_project(tmp_path, MACRO)
    (model,) = load_manifest(manifest, overrides={"f2": "feature_2"}).models
    assert [f.name for f in model.features] == ["FEATURE_1", "FEATURE_2"]
    err = rejected("validate", "-f", str(manifest), "--no-preflight", "--var", "f2=X, type: string, y: 1")
    assert "models[0].features[1].name: 'X, type: string, y: 1' is not a plain Snowflake identifier" in err


def test_a_captured_value_survives_case_filters(tmp_path):
    text = BASE.replace("database: ML", "database: '{% filter upper %}{{ var.db }}{% endfilter %}'")
    (model,) = load_manifest(make_project(tmp_path, text), overrides={"db": "ml_dev"}).models
    assert load_manifest(tmp_path / "project" / "deploy.yaml", overrides={"db": "ml_dev"}).database == "ML_DEV"
