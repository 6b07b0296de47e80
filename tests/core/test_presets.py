"""Presets: CRUD, safe file names, damaged files set aside, built-ins read-only, styles.csv import,
schema versions (older files migrated with a backup; newer files read as far as possible, kept)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.core import paths
from studio.core import presets as presets_module
from studio.core.fileio import Migrations
from studio.core.presets import SCHEMA_VERSION, Preset, PresetError, PresetStore, merge_prompt, slugify
from studio.core.request import GenerationRequest


@pytest.fixture
def builtin_dir(tmp_path: Path) -> Path:
    d = tmp_path / "builtin"
    d.mkdir()
    (d / "draft.json").write_text(
        json.dumps({"schema_version": 1, "name": "Draft", "settings": {"steps": 10}}), encoding="utf-8"
    )
    return d


@pytest.fixture
def store(tmp_path: Path, builtin_dir: Path) -> PresetStore:
    return PresetStore(tmp_path / "user", builtin_dir)


def _names(store: PresetStore) -> list[str]:
    return [p.name for p in store.list()]


def test_save_load_and_update(store: PresetStore) -> None:
    saved = store.save(Preset("Portrait", {"steps": 30, "guidance": 6, "prompt": "a face"}))
    assert saved.path is not None and saved.path.name == "portrait.json"
    assert _names(store) == ["Draft", "Portrait"]
    loaded = store.get("portrait")
    assert loaded is not None and loaded.fields == {"steps": 30, "guidance": 6.0, "prompt": "a face"}
    assert isinstance(loaded.fields["guidance"], float) and not loaded.builtin
    data = json.loads(saved.path.read_text(encoding="utf-8"))
    assert data == {"schema_version": 1, "name": "Portrait", "settings": loaded.fields}
    store.save(Preset("Portrait", {"steps": 31}))  # same name: updates the same file
    assert store.get("Portrait").fields == {"steps": 31}
    assert len(list(store.user_dir.glob("*.json"))) == 1


def test_file_names_are_safe_and_unique(store: PresetStore) -> None:
    a = store.save(Preset("A/B: c?", {}))
    b = store.save(Preset("a b c", {}))
    c = store.save(Preset("../../etc/passwd", {}))
    d = store.save(Preset("CON", {}))
    e = store.save(Preset("日本語", {}))
    assert a.path.name == "a-b-c.json" and b.path.name == "a-b-c-2.json"
    assert c.path.parent == store.user_dir and c.path.name == "etc-passwd.json"
    assert d.path.name == "con-preset.json" and e.path.name == "preset.json"
    assert slugify("Émoji (studio-mini)") == "emoji-studio-mini"


def test_rename_duplicate_delete(store: PresetStore) -> None:
    store.save(Preset("One", {"steps": 5}))
    renamed = store.rename("One", "Two")
    assert _names(store) == ["Draft", "Two"] and renamed.fields == {"steps": 5}
    assert not (store.user_dir / "one.json").exists()
    store.rename("Two", "two")  # change of case only
    assert _names(store) == ["Draft", "two"]
    copy = store.duplicate("two")
    assert copy.name == "two copy" and copy.fields == {"steps": 5}
    assert store.duplicate("two").name == "two copy 2"
    assert store.duplicate("Draft", "My draft").fields == {"steps": 10}  # copy of a built-in
    with pytest.raises(PresetError, match="already"):
        store.rename("two", "my draft")
    store.delete("two copy")
    assert "two copy" not in _names(store)
    with pytest.raises(PresetError, match="no preset"):
        store.delete("missing")


def test_builtins_are_read_only(store: PresetStore, builtin_dir: Path) -> None:
    before = (builtin_dir / "draft.json").read_bytes()
    assert store.is_builtin("Draft") and store.get("Draft").builtin
    with pytest.raises(PresetError, match="built-in"):
        store.save(Preset("draft", {"steps": 99}))
    with pytest.raises(PresetError, match="built-in"):
        store.rename("Draft", "Other")
    with pytest.raises(PresetError, match="built-in"):
        store.delete("Draft")
    assert (builtin_dir / "draft.json").read_bytes() == before


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"schema_version": 1, "name": "X", "settings": {"steps": "many"}}), "wrong type"),
        (json.dumps({"schema_version": 1, "name": "X", "settings": {"guidance": True}}), "wrong type"),
        (json.dumps({"name": "X", "settings": {}}), "schema_version"),
        (json.dumps({"schema_version": 1, "name": "", "settings": {}}), "no name"),
        (json.dumps(["a list"]), "not a JSON object"),
        (b"\xff\xfe\x00bad utf-8", "not valid JSON"),
    ],
)
def test_damaged_files_are_set_aside_and_others_load(store: PresetStore, content, reason: str) -> None:
    store.save(Preset("Good", {"steps": 12}))
    bad = store.user_dir / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content, encoding="utf-8")
    original = bad.read_bytes()
    assert _names(store) == ["Draft", "Good"]
    assert not bad.exists()
    moved = list(store.user_dir.glob("bad.json.broken-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == original  # kept, not overwritten
    assert len(store.problems) == 1
    assert "bad.json" in store.problems[0] and reason in store.problems[0]
    assert moved[0].name in store.problems[0]


def test_damaged_builtin_is_reported_not_moved(tmp_path: Path, builtin_dir: Path) -> None:
    (builtin_dir / "broken.json").write_text("{", encoding="utf-8")
    store = PresetStore(tmp_path / "user", builtin_dir)
    assert _names(store) == ["Draft"]
    _names(store)
    assert (builtin_dir / "broken.json").exists()
    assert len(store.problems) == 1 and "built-in" in store.problems[0]


def test_unknown_fields_are_ignored(store: PresetStore) -> None:
    store.user_dir.mkdir(parents=True)
    (store.user_dir / "x.json").write_text(
        json.dumps({"schema_version": 1, "name": "X", "settings": {"steps": 3, "future": 1, "seed": None}})
    )
    assert store.get("X").fields == {"steps": 3} and not store.problems


def test_apply_to_request_and_prompt_placeholder() -> None:
    base = GenerationRequest(prompt="a cat", negative_prompt="ugly", steps=20)
    preset = Preset("P", {"steps": 35, "guidance": 5.0, "prompt": "{prompt}, oil painting"})
    applied = preset.apply_to(base)
    assert (applied.steps, applied.guidance, applied.prompt) == (35, 5.0, "a cat, oil painting")
    assert applied.negative_prompt == "ugly"
    assert Preset("Q", {"prompt": "new prompt"}).apply_to(base).prompt == "new prompt"
    assert merge_prompt("{prompt}, oil painting", "") == "oil painting"
    notes: list[str] = []
    bad = Preset("B", {"steps": 500, "scheduler": "Nope", "width": 64}).apply_to(base, notes)
    assert (bad.steps, bad.scheduler, bad.width) == (20, base.scheduler, 64)
    assert len(notes) == 2


def test_capture_round_trip(store: PresetStore) -> None:
    request = GenerationRequest(prompt="p", steps=44, seed=77, width=640)
    preset = Preset.capture("Cap", request)
    assert "seed" not in preset.fields and preset.fields["width"] == 640
    assert "seed" in Preset.capture("Cap", request, with_seed=True).fields
    store.save(preset)
    again = store.get("Cap").apply_to(GenerationRequest(seed=5))
    assert again == request.replace(seed=5)


def test_export_and_import(store: PresetStore, tmp_path: Path) -> None:
    store.save(Preset("Share me", {"steps": 8}))
    out = store.export("Share me", tmp_path / "shared.json")
    imported = store.import_file(out)  # name taken: renamed
    assert imported.name == "Share me (imported)" and imported.fields == {"steps": 8}
    assert store.import_file(out).name == "Share me (imported) 2"
    other = PresetStore(tmp_path / "other")
    assert other.import_file(out).name == "Share me"
    junk = tmp_path / "junk.json"
    junk.write_text("{nope", encoding="utf-8")
    with pytest.raises(PresetError, match="junk.json"):
        store.import_file(junk)
    assert junk.exists()  # someone else's file is never moved


def test_import_styles_csv(store: PresetStore, tmp_path: Path) -> None:
    csv_path = tmp_path / "styles.csv"
    csv_path.write_text(
        "name,prompt,negative_prompt\n"
        'Cinematic,"{prompt}, cinematic still, film grain","cartoon, anime"\n'
        '"Multi, line","soft light,\nbokeh",\n'
        ",orphan prompt,\n"
        "Empty,,\n",
        encoding="utf-8-sig",
    )
    created = store.import_styles_csv(csv_path)
    assert [p.name for p in created] == ["Cinematic", "Multi, line", "Empty"]
    assert created[0].fields == {
        "prompt": "{prompt}, cinematic still, film grain",
        "negative_prompt": "{prompt}, cartoon, anime",
    }
    assert created[1].fields == {"prompt": "{prompt}, soft light,\nbokeh"}
    assert len(store.problems) == 1 and "without a name" in store.problems[0]
    applied = store.get("Cinematic").apply_to(GenerationRequest(prompt="a ship", negative_prompt=""))
    assert applied.prompt == "a ship, cinematic still, film grain"
    assert applied.negative_prompt == "cartoon, anime"
    again = store.import_styles_csv(csv_path)
    assert again[0].name == "Cinematic 2"


def test_styles_csv_without_name_column(store: PresetStore, tmp_path: Path) -> None:
    bad = tmp_path / "styles.csv"
    bad.write_text("title,prompt\nx,y\n", encoding="utf-8")
    with pytest.raises(PresetError, match="name"):
        store.import_styles_csv(bad)


def test_shipped_builtin_presets_load_and_apply(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "user", paths.resource("presets"))
    presets = store.list()
    assert len(presets) >= 4 and all(p.builtin for p in presets)
    assert not store.problems
    names = {p.name for p in presets}
    assert {"Quick draft", "Detailed", "Emoji (studio-mini)"} <= names
    for preset in presets:
        notes: list[str] = []
        preset.apply_to(GenerationRequest(prompt="a fox"), notes).validate()
        assert not notes, (preset.name, notes)
    emoji = store.get("Emoji (studio-mini)").apply_to(GenerationRequest(prompt="red apple"))
    assert emoji.prompt == "an emoji of a red apple" and (emoji.width, emoji.height) == (128, 128)


# ---- schema versions ----

NEWER = SCHEMA_VERSION + 1
NEWER_PRESET = {
    "schema_version": NEWER,
    "name": "Future",
    "settings": {"steps": 9, "guidance": "dynamic", "loras": [{"name": "ink"}], "prompt": "a comet"},
    "thumbnail": "future.png",
}


def _write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_newer_preset_is_read_as_far_as_possible_and_left_in_place(store: PresetStore, caplog) -> None:
    """Before: a schema-2 preset was renamed to *.broken-* and vanished after one launch."""
    path = _write(store.user_dir / "future.json", NEWER_PRESET)
    before = path.read_bytes()
    store.save(Preset("Good", {"steps": 12}))
    assert _names(store) == ["Draft", "Future", "Good"]
    future = store.get("Future")
    assert future is not None and future.newer and future.schema_version == NEWER
    assert future.fields == {"steps": 9, "prompt": "a comet"}  # unknown fields, unusable values left out
    assert not store.problems and "newer Studio" in caplog.text
    assert future.apply_to(GenerationRequest()).steps == 9
    _names(store)
    assert path.read_bytes() == before
    assert sorted(p.name for p in store.user_dir.iterdir()) == ["future.json", "good.json"]


def test_newer_preset_is_never_overwritten(store: PresetStore) -> None:
    path = _write(store.user_dir / "future.json", NEWER_PRESET)
    before = path.read_bytes()
    with pytest.raises(PresetError, match="newer version"):
        store.save(Preset("future", {"steps": 3}))
    with pytest.raises(PresetError, match="newer version"):
        store.rename("Future", "Past")
    copy = store.duplicate("Future")
    assert copy.name == "Future copy" and copy.fields == {"steps": 9, "prompt": "a comet"} and not copy.newer
    assert copy.path is not None
    assert json.loads(copy.path.read_text(encoding="utf-8"))["schema_version"] == SCHEMA_VERSION
    assert path.read_bytes() == before


def test_unusable_newer_preset_is_reported_but_left_in_place(store: PresetStore) -> None:
    path = _write(store.user_dir / "odd.json", {"schema_version": NEWER, "title": "no name here"})
    store.save(Preset("Good", {"steps": 12}))
    assert _names(store) == ["Draft", "Good"]
    assert path.exists() and not list(store.user_dir.glob("*.broken-*"))
    assert (
        len(store.problems) == 1
        and "newer Studio" in store.problems[0]
        and "left as it is" in store.problems[0]
    )


def test_newer_preset_can_be_imported(store: PresetStore, tmp_path: Path) -> None:
    source = _write(tmp_path / "shared.json", NEWER_PRESET)
    imported = store.import_file(source)
    assert imported.fields == {"steps": 9, "prompt": "a comet"} and not imported.newer
    assert source.read_text(encoding="utf-8") == json.dumps(NEWER_PRESET, indent=2)


def _next_format(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> None:
    """Pretend this version writes format NEWER, where `cfg` was renamed to `guidance`."""
    migrations = Migrations("preset", NEWER, key="schema_version")

    @migrations.migrator(SCHEMA_VERSION, NEWER)
    def _cfg_to_guidance(data: dict) -> dict:
        if "cfg" in data["settings"]:
            data["settings"]["guidance"] = data["settings"].pop("cfg")
        if fail:
            raise KeyError("boom")
        return data

    monkeypatch.setattr(presets_module, "MIGRATIONS", migrations)


OLD_PRESET = {"schema_version": SCHEMA_VERSION, "name": "Old", "settings": {"cfg": 4.5, "steps": 6}}


def test_older_preset_is_migrated_with_a_backup(store: PresetStore, monkeypatch: pytest.MonkeyPatch) -> None:
    _next_format(monkeypatch)
    path = _write(store.user_dir / "old.json", OLD_PRESET)
    original = path.read_bytes()
    old = store.get("Old")
    assert old is not None and old.fields == {"guidance": 4.5, "steps": 6} and not old.newer
    backup = store.user_dir / f"old.json.v{SCHEMA_VERSION}-backup"
    assert backup.read_bytes() == original
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["schema_version"] == NEWER and data["settings"] == {"guidance": 4.5, "steps": 6}
    draft = store.get("Draft")  # the older built-in: migrated in memory only
    assert draft is not None and draft.fields == {"steps": 10} and not store.problems
    assert sorted(p.name for p in store.user_dir.iterdir()) == ["old.json", backup.name]


def test_failing_migration_keeps_the_original(
    store: PresetStore, builtin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _next_format(monkeypatch, fail=True)
    path = _write(store.user_dir / "old.json", OLD_PRESET)
    original = path.read_bytes()
    builtin_before = (builtin_dir / "draft.json").read_bytes()
    assert _names(store) == []
    assert path.read_bytes() == original and not list(store.user_dir.glob("*.broken-*"))
    assert (builtin_dir / "draft.json").read_bytes() == builtin_before
    assert any("old.json could not be updated" in p and "boom" in p for p in store.problems)
    assert any("draft.json" in p and "boom" in p for p in store.problems)
