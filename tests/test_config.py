"""Config loading: _BASE_ inheritance, _delete_, typed overrides, and errors that name file and key."""
from __future__ import annotations

from pathlib import Path

import pytest

from paddlevideo_slowfast.config import apply_override, config_file, describe_sources, dump_config, load_config
from paddlevideo_slowfast.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def three_levels(tmp_path: Path) -> Path:
    write(tmp_path / "base" / "root.yaml", """
MODEL:
  backbone: {name: A, depth: 50, widths: [1, 2, 3]}
  head: {name: H, num_classes: 400, extra: {x: 1, y: 2}}
epochs: 10
lr: 1e-4
""")
    write(tmp_path / "base" / "mid" / "mid.yaml", """
_BASE_: ../root.yaml
MODEL:
  backbone: {depth: 101, widths: [9]}
epochs: 20
""")
    return write(tmp_path / "exp" / "child.yaml", """
_BASE_: [../base/mid/mid.yaml]
MODEL:
  head:
    extra: {_delete_: true, z: 3}
epochs: 30
""")


def test_three_level_inheritance(three_levels: Path) -> None:
    cfg = load_config(str(three_levels))
    assert cfg.MODEL.backbone.name == "A"
    assert cfg.MODEL.backbone.depth == 101
    assert cfg.MODEL.backbone.widths == [9]               # lists are replaced, not merged
    assert cfg.MODEL.head.num_classes == 400
    assert cfg.MODEL.head.extra == {"z": 3}               # _delete_ replaces the base dict
    assert cfg.epochs == 30
    assert cfg.lr == pytest.approx(1e-4) and isinstance(cfg.lr, float)
    assert "_BASE_" not in cfg
    assert cfg.MODEL.backbone.source_of("depth").endswith("mid.yaml")
    assert cfg.MODEL.backbone.source_of("name").endswith("root.yaml")
    assert cfg.source_of("epochs").endswith("child.yaml")
    assert config_file(cfg).endswith("child.yaml")
    sources = dict(describe_sources(cfg))
    assert "root.yaml" in sources["MODEL"] and "mid.yaml" in sources["MODEL"] and "child.yaml" in sources["MODEL"]


def test_overrides_are_typed(three_levels: Path) -> None:
    cfg = load_config(str(three_levels), ["epochs=5", "lr=3e-3", "MODEL.backbone.widths=[4, 5]",
                                          "MODEL.backbone.name=B", "MODEL.head.extra.z=true",
                                          "+MODEL.head.new_key=0.5"])
    assert cfg.epochs == 5 and isinstance(cfg.epochs, int)
    assert cfg.lr == pytest.approx(3e-3)
    assert cfg.MODEL.backbone.widths == [4, 5]
    assert cfg.MODEL.backbone.name == "B"
    assert cfg.MODEL.head.extra.z is True
    assert cfg.MODEL.head.new_key == 0.5


def test_override_never_evaluates(three_levels: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cfg = load_config(str(three_levels), [f"MODEL.backbone.name=__import__('os').system('touch {marker}')"])
    assert isinstance(cfg.MODEL.backbone.name, str)
    assert not marker.exists()


def test_override_unknown_key_names_key_and_file(three_levels: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(str(three_levels), ["MODEL.backbone.dpeth=18"])
    assert err.value.key == "MODEL.backbone.dpeth"
    assert err.value.file.endswith("child.yaml")
    assert "+MODEL.backbone.dpeth" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(str(three_levels), ["+NOPE.sub.key=1"])      # + creates only under an existing mapping
    assert err.value.key == "NOPE"


def test_override_pipeline_stage_by_name_and_index(repo_root: Path) -> None:
    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"),
                      ["PIPELINE.train.transform.JitterScale.max_size=288",
                       "PIPELINE.test.transform.0.JitterScale.max_size=300"])
    scales = [s for s in cfg.PIPELINE.train.transform if "JitterScale" in s]
    assert scales[0]["JitterScale"]["max_size"] == 288
    assert cfg.PIPELINE.test.transform[0]["JitterScale"]["max_size"] == 300
    with pytest.raises(ConfigError) as err:
        apply_override(cfg, "PIPELINE.train.transform.NoSuchStage.x=1")
    assert err.value.key == "PIPELINE.train.transform.NoSuchStage"
    with pytest.raises(ConfigError):
        apply_override(cfg, "PIPELINE.train.transform.99.x=1")


def test_missing_base_names_file_and_key(tmp_path: Path) -> None:
    child = write(tmp_path / "a.yaml", "_BASE_: nowhere/b.yaml\nx: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(child))
    assert err.value.key == "_BASE_" and err.value.file == str(child)
    assert "nowhere/b.yaml" in str(err.value)


def test_base_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "_BASE_: b.yaml\nx: 1\n")
    write(tmp_path / "b.yaml", "_BASE_: a.yaml\ny: 1\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(str(tmp_path / "a.yaml"))


def test_bad_yaml_and_bad_base_type(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "MODEL: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(bad))
    assert err.value.file == str(bad) and "line" in str(err.value)
    typed = write(tmp_path / "typed.yaml", "_BASE_: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(typed))
    assert err.value.key == "_BASE_"
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "absent.yaml"))


def test_bare_name_resolves_to_shipped_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config("slowfast.yaml")
    assert cfg.MODEL.backbone.name == "ResNetSlowFast"
    write(tmp_path / "slowfast.yaml", "model_name: local\n")     # a local file wins
    assert load_config("slowfast.yaml").model_name == "local"


def test_shipped_recipes(repo_root: Path) -> None:
    cfg = load_config(str(repo_root / "configs" / "slowfast.yaml"))
    lr = cfg.OPTIMIZER.learning_rate
    assert (cfg.epochs, lr.name, lr.max_epoch, lr.warmup_epochs) == (196, "CustomWarmupCosineDecay", 196, 34)
    assert (lr.warmup_start_lr, lr.cosine_base_lr, cfg.OPTIMIZER.weight_decay.value) == (0.01, 0.1, 1e-4)
    assert cfg.OPTIMIZER.momentum == 0.9 and cfg.PRECISEBN.num_iters_preciseBN == 200
    assert (cfg.DATASET.test.num_ensemble_views, cfg.DATASET.test.num_spatial_crops) == (10, 3)
    test_crop = [s["MultiCrop"] for s in cfg.PIPELINE.test.transform if "MultiCrop" in s][0]
    assert test_crop["target_size"] == 256
    fast = load_config(str(repo_root / "configs" / "slowfast_8x8.yaml"))
    assert (fast.MODEL.backbone.alpha, fast.MODEL.backbone.fusion_kernel_sz, fast.MODEL.head.alpha) == (4, 7, 4)
    assert fast.epochs == 239 and fast.OPTIMIZER.learning_rate.name == "CustomWarmupPiecewiseDecay"
    assert "cosine_base_lr" not in fast.OPTIMIZER.learning_rate
    assert fast.PIPELINE.train.decode_sampler.num_frames == 32
    pack = [s["PackOutput"] for s in fast.PIPELINE.test.transform if "PackOutput" in s][0]
    assert pack["alpha"] == 4
    test_crop = [s["MultiCrop"] for s in fast.PIPELINE.test.transform if "MultiCrop" in s][0]
    assert test_crop["target_size"] == 224


def test_paddlevideo_config_loads_unchanged(paddlevideo_dir: Path) -> None:
    folder = paddlevideo_dir / "configs" / "recognition" / "slowfast"
    cfg = load_config(str(folder / "slowfast.yaml"))
    assert cfg.MODEL.framework == "Recognizer3D"
    assert cfg.MODEL.backbone.name == "ResNetSlowFast" and cfg.MODEL.head.name == "SlowFastHead"
    assert cfg.DATASET.train.format == "SFVideoDataset"
    assert cfg.PIPELINE.train.decode_sampler.name == "DecodeSampler"
    assert [next(iter(s)) for s in cfg.PIPELINE.train.transform] == [
        "JitterScale", "MultiCrop", "RandomFlip", "Image2Array", "Normalization", "PackOutput"]
    assert cfg.OPTIMIZER.weight_decay.value == pytest.approx(1e-4)
    multigrid = load_config(str(folder / "slowfast_multigrid.yaml"))
    assert multigrid.MODEL.backbone.alpha == 4


def test_dump_round_trips(three_levels: Path, tmp_path: Path) -> None:
    cfg = load_config(str(three_levels))
    again = write(tmp_path / "dumped.yaml", dump_config(cfg))
    assert load_config(str(again)).to_dict() == cfg.to_dict()


def test_delete_in_a_base_fragment_still_replaces(tmp_path: Path) -> None:
    write(tmp_path / "recipe.yaml", "OPT: {name: Momentum, momentum: 0.9}\n")
    write(tmp_path / "adamw.yaml", "OPT: {_delete_: true, name: AdamW}\nLR: {_delete_: true, x: 1}\n")
    cfg = load_config(str(write(tmp_path / "exp.yaml", "_BASE_: [recipe.yaml, adamw.yaml]\n")))
    assert cfg.OPT == {"name": "AdamW"} and cfg.LR == {"x": 1}
    assert cfg.OPT.source_of("name").endswith("adamw.yaml")
    alone = load_config(str(tmp_path / "adamw.yaml"))
    assert "_delete_" not in alone.OPT and "_delete_" not in alone.LR


def test_copy_and_pickle_keep_provenance(three_levels: Path) -> None:
    import copy
    import pickle

    cfg = load_config(str(three_levels))
    for clone in (copy.copy(cfg), copy.deepcopy(cfg)):
        assert clone.MODEL.backbone.depth == 101
        assert clone.MODEL.backbone.source_of("depth").endswith("mid.yaml")
    again = pickle.loads(pickle.dumps(cfg))
    assert again.to_dict() == cfg.to_dict()
    assert again.MODEL.backbone.source_of("depth").endswith("mid.yaml") and config_file(again) == config_file(cfg)


def test_copies_get_their_own_provenance(three_levels: Path) -> None:
    import copy

    cfg = load_config(str(three_levels))
    deep = copy.deepcopy(cfg)
    apply_override(deep, "MODEL.backbone.depth=18")
    assert deep.MODEL.backbone.source_of("depth") == "<override>"
    assert cfg.MODEL.backbone.depth == 101 and cfg.MODEL.backbone.source_of("depth").endswith("mid.yaml")
    assert deep.MODEL.head._sources is deep._sources            # one table per copy, shared by its nodes
    shallow = copy.copy(cfg)
    apply_override(shallow, "epochs=1")
    assert shallow.source_of("epochs") == "<override>" and cfg.source_of("epochs").endswith("child.yaml")
    assert config_file(deep) == config_file(shallow) == config_file(cfg)


@pytest.fixture
def stage_child(tmp_path: Path, repo_root: Path) -> Path:
    return write(tmp_path / "child.yaml", f"""
_BASE_: {repo_root / 'configs' / 'slowfast.yaml'}
PIPELINE:
  train:
    transform:
      MultiCrop: {{target_size: 224, extra_arg: 1}}
      RandomFlip: {{p: 0.25}}
  test:
    transform:
      JitterScale: {{_delete_: true, min_size: 288, max_size: 288}}
""")


def test_child_edits_one_stage_by_name(stage_child: Path, repo_root: Path) -> None:
    cfg = load_config(str(stage_child))
    base = load_config(str(repo_root / "configs" / "slowfast.yaml"))
    names = [next(iter(s)) for s in cfg.PIPELINE.train.transform]
    assert names == [next(iter(s)) for s in base.PIPELINE.train.transform]    # the list keeps its stages
    stages = {next(iter(s)): s[next(iter(s))] for s in cfg.PIPELINE.train.transform}
    assert stages["MultiCrop"] == {"target_size": 224, "extra_arg": 1}
    assert stages["RandomFlip"] == {"p": 0.25}                                  # was `RandomFlip:` (no arguments)
    assert stages["JitterScale"] == {"min_size": 256, "max_size": 320}
    test_scale = cfg.PIPELINE.test.transform[0]["JitterScale"]
    assert test_scale == {"min_size": 288, "max_size": 288}                     # _delete_ replaced its arguments
    assert stages["MultiCrop"].source_of("extra_arg") == str(stage_child)
    assert stages["JitterScale"].source_of("min_size").endswith("slowfast_train.yaml")
    assert cfg.PIPELINE.test.transform[0]["JitterScale"].source_of("min_size") == str(stage_child)


def test_stage_edit_of_an_unknown_or_repeated_stage_names_file_and_key(tmp_path: Path, repo_root: Path) -> None:
    child = write(tmp_path / "c.yaml", f"_BASE_: {repo_root / 'configs' / 'slowfast.yaml'}\n"
                  "PIPELINE: {train: {transform: {MultiCorp: {target_size: 64}}}}\n")
    with pytest.raises(ConfigError) as err:
        load_config(str(child))
    assert err.value.key == "PIPELINE.train.transform.MultiCorp" and err.value.file == str(child)
    assert "MultiCrop" in str(err.value)                                        # lists the stages there are
    write(tmp_path / "twice.yaml", "PIPELINE: {train: {transform: [{A: {x: 1}}, {A: {x: 2}}]}}\n")
    child = write(tmp_path / "d.yaml", "_BASE_: twice.yaml\nPIPELINE: {train: {transform: {A: {x: 3}}}}\n")
    with pytest.raises(ConfigError, match="2 stages named 'A'"):
        load_config(str(child))
