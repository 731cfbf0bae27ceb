"""A landing folder is checked where it enters: one report naming every bad file and column."""

from __future__ import annotations

from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pixie_assets.core import contract
from pixie_assets.core.settings import Settings
from pixie_assets.landing import (
    LandingContractError,
    validate_landing,
    write_landing_table,
)
from pixie_assets.landing.sources import read_table
from pixie_assets_tests.replay import builders


@pytest.fixture
def landing(tmp_path):
    return builders.write_example(tmp_path / "landing")


def _problems(root) -> list[str]:
    with pytest.raises(LandingContractError) as caught:
        validate_landing(root, use_cache=False)
    assert isinstance(caught.value, ValueError)
    return caught.value.problems


def _one(problems: list[str], *fragments: str) -> str:
    """The one problem line holding every fragment (a file and a column, typically)."""
    found = [p for p in problems if all(f in p for f in fragments)]
    assert len(found) == 1, (fragments, problems)
    return found[0]


def test_the_example_is_valid(landing):
    inventory = validate_landing(landing, use_cache=False)
    assert len(inventory.paths("saves")) == 4  # days 0, 7, 8, 9; day 10 is an empty folder
    assert len(inventory.paths("saves", before=date(2026, 3, 9))) == 2
    assert len(inventory.paths("engagements")) == 2  # one in client=homefeed/, one not


def test_every_problem_is_reported_at_once_naming_file_and_column(landing):
    users = landing / "users" / "part-0.parquet"
    pq.write_table(pq.read_table(users).drop(["locale"]), users)

    pins = landing / "pins" / "part-0.parquet"
    table = pq.read_table(pins)
    as_text = table.set_column(0, "pin_id", pa.compute.cast(table["pin_id"], pa.string()))
    pq.write_table(as_text, pins)

    boards = pq.read_table(landing / "boards" / "part-0.parquet")
    pq.write_table(boards.slice(0, 2), landing / "boards" / "part-1.parquet")  # repeated ids

    day0 = landing / "saves" / "day=2026-03-01" / "part-0.parquet"
    saves = pq.read_table(day0)
    board_ids = saves["board_id"].to_pylist()
    board_ids[3] = None
    saved_at = saves["saved_at"].to_pylist()
    saved_at[5] = datetime(2026, 3, 4, 8)  # filed under day 0
    broken = saves.set_column(2, "board_id", pa.array(board_ids, pa.int64()))
    broken = broken.set_column(3, "saved_at", pa.array(saved_at, contract.TIMESTAMP))
    pq.write_table(broken, day0)

    folder = landing / "engagements" / "day=2026-03-05" / "client=homefeed"
    engagements = pq.read_table(folder / "part-0.parquet")
    actions = engagements["action"].to_pylist()
    actions[0] = "like"
    bad_action = engagements.set_column(2, "action", pa.array(actions))
    pq.write_table(bad_action, folder / "part-0.parquet")
    truncated = folder / "part-1.parquet"
    truncated.write_bytes((folder / "part-0.parquet").read_bytes()[:100])

    (landing / "saves" / "2026-03-02").mkdir()  # not a day=YYYY-MM-DD folder

    problems = _problems(landing)
    assert "missing" in _one(problems, str(users), "'locale'")
    assert "type string" in _one(problems, str(pins), "'pin_id'")
    repeated = _one(problems, "'board_id'", "more than once")
    assert "part-0.parquet" in repeated and "part-1.parquet" in repeated
    assert "1 row(s) with null 'board_id'" in _one(problems, str(day0), "'board_id'")
    assert "outside the folder's day 2026-03-01" in _one(problems, str(day0), "'saved_at'")
    assert "'like'" in _one(problems, str(folder / "part-0.parquet"), "'action'")
    assert "not a readable Parquet file" in _one(problems, str(truncated))
    assert "not a day=YYYY-MM-DD folder" in _one(problems, "2026-03-02")
    assert len(problems) == 8, problems


def test_missing_tables_and_misplaced_files_are_named(landing):
    for path in (landing / "boards").iterdir():
        path.unlink()
    (landing / "boards").rmdir()
    stray = landing / "users" / "2026"
    stray.mkdir()
    problems = _problems(landing)
    assert "no boards files" in _one(problems, str(landing / "boards"), "board_id BIGINT")
    _one(problems, str(stray), "unexpected folder")
    assert len(problems) == 2


def test_timezone_aware_timestamps_are_refused(landing):
    path = landing / "users" / "part-0.parquet"
    users = pq.read_table(path)
    aware = users["created_at"].cast(pa.timestamp("us", tz="Europe/Paris"))
    pq.write_table(users.set_column(2, "created_at", aware), path)
    assert "expected timestamp[us]" in _one(_problems(landing), str(path), "'created_at'")


def test_lossless_widenings_read_as_the_contract(tmp_path, monkeypatch):
    """int32 ids, nanosecond timestamps, dictionary strings and an all-null request_id are what
    pandas and other writers produce; they are accepted and read back in contract types."""
    root = builders.write_example(tmp_path / "landing")
    folder = root / "engagements" / "day=2026-03-05" / "client=homefeed"
    engagements = pq.read_table(folder / "part-0.parquet")
    widened = pa.table(
        {
            "user_id": engagements["user_id"].cast(pa.int32()),
            "pin_id": engagements["pin_id"].cast(pa.uint16()),
            "action": engagements["action"].dictionary_encode(),
            "client": engagements["client"].cast(pa.large_string()),
            "request_id": pa.nulls(engagements.num_rows),
            "ts": engagements["ts"].cast(pa.timestamp("ns")),
        }
    )
    pq.write_table(widened, folder / "part-0.parquet")
    settings = Settings(home=tmp_path / "home", source="landing", landing=root)
    read = read_table(settings, "engagements")
    assert read.schema.equals(contract.ENGAGEMENTS)
    assert read.num_rows == 9  # the exact duplicate row of user 106 is kept
    original = builders.tables()["engagements"]
    assert sorted(read["user_id"].to_pylist()) == sorted(original["user_id"].to_pylist())
    assert read["ts"].to_pylist()[0] == original["ts"].to_pylist()[0]


def test_read_table_in_landing_mode_reads_all_five_tables(tmp_path, monkeypatch):
    root = builders.write_example(tmp_path / "elsewhere")
    default = Settings(home=tmp_path / "home", source="landing")
    assert default.landing_dir == tmp_path / "home" / "landing"
    monkeypatch.setenv("PIXIE_LANDING", str(root))
    monkeypatch.setenv("PIXIE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIXIE_SOURCE", "landing")
    settings = Settings.from_env()
    assert settings.landing_dir == root.resolve()
    expected = builders.tables()
    for name in contract.WORLD_TABLES:
        table = read_table(settings, name)
        assert table.schema.equals(contract.WORLD_TABLES[name]), name
        assert table.num_rows == expected[name].num_rows, name
    before = read_table(settings, "saves", before=date(2026, 3, 9), columns=["pin_id"])
    # before 03-09 (day 8): the training window's first day is in, day 8 and the test days not
    assert before.num_rows == expected["saves"].num_rows - 1 - 8
    week = read_table(settings, "engagements", before=date(2026, 3, 6), since=date(2026, 3, 5))
    assert week.num_rows == 8  # day 4's rows; day 5 (user 108's click) is the excluded bound


def test_read_table_in_landing_mode_raises_the_report(tmp_path, monkeypatch):
    root = builders.write_example(tmp_path / "landing")
    path = root / "pins" / "part-0.parquet"
    pq.write_table(pq.read_table(path).drop(["topic"]), path)
    with pytest.raises(ValueError, match="column 'topic' is missing"):
        read_table(Settings(home=tmp_path / "home", source="replay", landing=root), "saves")


def test_write_landing_table_splits_events_by_day(tmp_path):
    saves = builders.tables()["saves"]
    paths = write_landing_table(tmp_path, "saves", saves, client="web")
    assert [p.parent.parent.name for p in paths] == [
        "day=2026-03-01",
        "day=2026-03-08",
        "day=2026-03-09",
        "day=2026-03-10",
    ]
    assert all(p.parent.name == "client=web" for p in paths)
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in paths) == saves.num_rows


def test_serving_tables_are_checked_for_layout_and_schema(landing):
    from pixie_assets.landing import LAYOUT
    from pixie_assets_tests.ingest import builders as serving

    day = date(2026, 3, 10)
    tables = serving.partition_tables(day)
    good = serving.write_partition(landing, tables, day)
    assert validate_landing(landing, tuple(LAYOUT), use_cache=False).paths("serving_log") == [
        good["serving_log"]
    ]
    misplaced = landing / "serving_log" / "day=2026-03-10" / "part-9.parquet"
    pq.write_table(tables["serving_log"], misplaced)
    no_feature = tables["impressions"].drop(["full_ranker_score"])
    pq.write_table(no_feature, good["impressions"])
    (landing / "users" / "users.csv").write_text("user_id,locale,created_at\n")
    with pytest.raises(LandingContractError) as caught:
        validate_landing(landing, tuple(LAYOUT), use_cache=False)
    problems = caught.value.problems
    assert "belong in client=<c>/" in _one(problems, str(misplaced))
    _one(problems, str(good["impressions"]), "'full_ranker_score'")
    assert "not a *.parquet file" in _one(problems, "users.csv")
    assert len(problems) == 3


def test_file_names_with_glob_characters_are_refused_by_name(landing):
    (day_file,) = list((landing / "saves").glob("day=*/*.parquet"))[:1]
    odd = day_file.with_name("part-[0].parquet")
    day_file.rename(odd)

    problems = _problems(landing)
    assert any(p.startswith(f"{odd}: the path contains '['") for p in problems), problems
