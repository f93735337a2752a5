"""An unreadable label file is a ConfigError naming the path and the config key that gave it."""
from __future__ import annotations

import pytest

from paddlevideo_slowfast.data import SFVideoDataset, read_label_names
from paddlevideo_slowfast.errors import ConfigError


def test_read_label_names_names_the_key_and_config(tmp_path) -> None:
    with pytest.raises(ConfigError) as error:
        read_label_names(str(tmp_path / "nope.txt"), key="DATASET.test.label_file", config_file="my.yaml")
    assert str(error.value) == (f"cannot read the label names {tmp_path / 'nope.txt'}: No such file or directory; "
                                "key: DATASET.test.label_file; file: my.yaml")


@pytest.mark.parametrize("mode", ["train", "valid"])
def test_dataset_names_its_label_file_key(tmp_path, mode) -> None:
    listing = tmp_path / "train.list"
    listing.write_text("a.mp4 0\n")
    with pytest.raises(ConfigError, match=rf"nope\.txt: .*key: DATASET\.{mode}\.label_file"):
        SFVideoDataset(str(listing), lambda item: item, data_prefix=str(tmp_path), mode=mode,
                       label_file=str(tmp_path / "nope.txt"))
