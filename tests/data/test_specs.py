"""Tests for source strings (keras_gen.data.specs): the one rooms-spec parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from keras_gen.data.specs import (
    RoomsSpec,
    SourceSpec,
    is_rooms_spec,
    parse_rooms_spec,
    parse_spec,
)


def test_rooms_spec_with_count_and_seed() -> None:
    assert parse_rooms_spec("rooms:10") == RoomsSpec(10, 0)
    assert parse_rooms_spec("rooms:10:3") == RoomsSpec(10, 3)
    assert parse_rooms_spec("rooms:10", default_seed=7) == RoomsSpec(10, 7)


def test_rooms_spec_count_optional_for_streams() -> None:
    streamed = {"default_seed": 1000, "count_required": False}
    assert parse_rooms_spec("rooms", **streamed) == RoomsSpec(None, 1000)
    assert parse_rooms_spec("rooms:", **streamed) == RoomsSpec(None, 1000)
    assert parse_rooms_spec("rooms::5", **streamed) == RoomsSpec(None, 5)
    assert parse_rooms_spec("rooms:4:2", **streamed) == RoomsSpec(4, 2)


@pytest.mark.parametrize(
    "spec",
    ["rooms", "rooms:", "rooms:x", "rooms:0", "rooms:-1", "rooms:3:-2",
     "rooms:3:x", "rooms:3:", "rooms:1:2:3", "roomsy:3", "tfds:x"],
)  # fmt: skip
def test_bad_rooms_specs_name_the_forms(spec: str) -> None:
    with pytest.raises(ValueError, match="bad rooms spec .*rooms:N or rooms:N:SEED"):
        parse_rooms_spec(spec)


def test_streamed_usage_mentions_plain_rooms() -> None:
    with pytest.raises(ValueError, match="use rooms, rooms:N or rooms:N:SEED"):
        parse_rooms_spec("rooms:0", count_required=False)


def test_only_rooms_and_rooms_colon_are_rooms_specs() -> None:
    assert is_rooms_spec("rooms") and is_rooms_spec("rooms:5")
    assert not is_rooms_spec("rooms_photos") and not is_rooms_spec("my/rooms:5")


def test_parse_spec_classifies_strings_and_paths(tmp_path: Path) -> None:
    assert parse_spec("rooms:8:2") == SourceSpec("rooms", num=8, seed=2)
    assert parse_spec("rooms:8", rooms_seed=5).seed == 5
    tfds = parse_spec("tfds:lsun/bedroom", data_dir="d", image_key="img")
    assert (tfds.kind, tfds.name, tfds.split) == ("tfds", "lsun/bedroom", "train")
    assert (tfds.data_dir, tfds.image_key) == ("d", "img")
    assert parse_spec("tfds:cifar10:test[:10%]").split == "test[:10%]"

    lmdb = tmp_path / "bedroom_lmdb"
    lmdb.mkdir()
    (lmdb / "data.mdb").write_bytes(b"")
    assert parse_spec(str(lmdb)).kind == "lmdb"
    assert parse_spec(str(tmp_path / "missing.mdb")).kind == "lmdb"

    indexed, loose = tmp_path / "indexed", tmp_path / "loose"
    indexed.mkdir()
    loose.mkdir()
    (indexed / "index.json").write_text("{}")
    (loose / "a.tfrecord").write_bytes(b"")
    assert parse_spec(str(indexed)) == SourceSpec("tfrecord", path=str(indexed))
    assert parse_spec(str(loose)).kind == "tfrecord"

    photos = tmp_path / "rooms_photos"
    photos.mkdir()
    assert parse_spec(str(photos)) == SourceSpec("folder", path=str(photos))
    assert parse_spec(str(tmp_path / "missing")).kind == "folder"
    with pytest.raises(ValueError, match="bad rooms spec"):
        parse_spec("rooms")
