"""The config schema (configs/_base_/schema.yaml): a bad value is refused at load, in one line naming key, value,
file and what was expected, by every verb and by check-config."""
from __future__ import annotations

from pathlib import Path

import pytest

from paddlevideo_slowfast.cli import main
from paddlevideo_slowfast.config import load_config, select
from paddlevideo_slowfast.config_schema import load_schema, parse_rule, violations
from paddlevideo_slowfast.errors import ConfigError

BAD_OVERRIDES = [
    ("DATASET.batch_size=abc", "DATASET.batch_size", "'abc'", "an integer >= 1"),
    ("DATASET.batch_size=-1", "DATASET.batch_size", "-1", "an integer >= 1"),
    ("DATASET.batch_size=0", "DATASET.batch_size", "0", "an integer >= 1"),
    ("epochs=abc", "epochs", "'abc'", "an integer >= 1"),
    ("epochs=true", "epochs", "True", "an integer >= 1"),
    ("DATASET.num_workers=-3", "DATASET.num_workers", "-3", "an integer >= 0"),
    ("DATASET.test_batch_size=2.5", "DATASET.test_batch_size", "2.5", "an integer >= 1 or null"),
    ("MODEL.head.dropout_rate=1.5", "MODEL.head.dropout_rate", "1.5", "a number in [0, 1)"),
    ("OPTIMIZER.learning_rate.cosine_base_lr=.nan", "OPTIMIZER.learning_rate.cosine_base_lr", "nan", "> 0"),
    ("MODEL.backbone.depth=34", "MODEL.backbone.depth", "34", "one of: 10, 18, 50, 101"),
    ("PIPELINE.train.transform.PackOutput.alpha=0", "PIPELINE.train.transform.PackOutput.alpha", "0", ">= 1"),
]


@pytest.mark.parametrize("override, key, shown, expected", BAD_OVERRIDES)
def test_bad_override_names_key_value_file_and_expectation(repo_root: Path, override, key, shown, expected):
    with pytest.raises(ConfigError) as err:
        load_config(str(repo_root / "configs" / "slowfast.yaml"), [override])
    assert err.value.key == key and err.value.file == "<override>"
    assert shown in str(err.value) and expected in err.value.expected
    assert "\n" not in str(err.value)


def test_bad_value_in_a_file_names_that_file(tmp_path: Path, repo_root: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(f"_BASE_: {repo_root / 'configs' / 'quickstart.yaml'}\nDATASET: {{num_workers: -3}}\n"
                     "log_level: LOUD\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(child))
    assert (err.value.key, err.value.file) == ("log_level", str(child))     # the first in schema order
    found = violations(load_config(str(child), check=False))     # every violation, in schema order
    assert [(e.key, e.file) for e in found] == [("log_level", str(child)), ("DATASET.num_workers", str(child))]


def test_null_only_where_declared(repo_root: Path) -> None:
    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"), ["DATASET.test_batch_size=null"])
    assert cfg.DATASET.test_batch_size is None
    with pytest.raises(ConfigError, match="key: DATASET.batch_size"):
        load_config(str(repo_root / "configs" / "slowfast.yaml"), ["DATASET.batch_size=null"])


@pytest.mark.parametrize("verb", ["check-config", "train", "test", "summary"])
def test_cli_refuses_at_load_with_one_line(verb: str, repo_root: Path, tmp_path: Path, capsys) -> None:
    argv = [verb, "-c", str(repo_root / "configs" / "quickstart.yaml"), "-o", "DATASET.batch_size=abc"]
    if verb == "train":
        argv += ["--output", str(tmp_path / "out")]
    if verb == "test":
        argv += ["-w", str(tmp_path / "none.pdparams")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DATASET.batch_size" in err[0] and "'abc'" in err[0] and "<override>" in err[0]
    assert not (tmp_path / "out").exists()                       # train failed before building anything


def test_schema_rows_parse_and_each_names_a_key_some_config_sets(repo_root: Path, paddlevideo_dir: Path) -> None:
    files = [p for p in sorted((repo_root / "configs").rglob("*.yaml")) if p.name != "schema.yaml"]
    files += sorted((paddlevideo_dir / "configs" / "recognition" / "slowfast").glob("*.yaml"))
    configs = [load_config(str(p)) for p in files]
    unused = [rule.key for rule in load_schema() if not any(select(cfg, rule.key) for cfg in configs)]
    assert unused == []                                          # a typo in the schema would check nothing


def test_schema_choices_mirror_the_code() -> None:
    from paddlevideo_slowfast.modeling.backbone import STAGE_DEPTHS
    from paddlevideo_slowfast.modeling.head import POOLS

    rules = {rule.key: rule for rule in load_schema()}
    assert rules["MODEL.backbone.depth"].choices == tuple(sorted(STAGE_DEPTHS))
    assert rules["MODEL.head.pool"].choices == POOLS


def test_malformed_schema_row_names_the_row() -> None:
    with pytest.raises(ConfigError) as err:
        parse_rule("epochs", {"type": "int", "range": "1..3"}, "schema.yaml")
    assert (err.value.key, err.value.file) == ("epochs", "schema.yaml")
    with pytest.raises(ConfigError, match="unknown field"):
        parse_rule("epochs", {"type": "int", "min": 1}, "schema.yaml")
    rule = parse_rule("x", {"type": "float", "range": "(0, 1]", "nullable": True}, "schema.yaml")
    assert rule.expected() == "a number in (0, 1] or null"
    assert rule.accepts(1) and rule.accepts(None) and not rule.accepts(0) and not rule.accepts(True)
