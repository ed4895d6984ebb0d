"""Location resolution: a table of real-world inputs, longest prefix, data integrity."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import time
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest

from bot.locations.locator import DataError, Location, Locator
from bot.settings import ROOT

DATA = ROOT / "data"
TABLE = Path(__file__).parent.parent / "data" / "locations.tsv"


def _table() -> list[tuple[str, str]]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        text, expected = line.split("\t")
        rows.append((text, expected))
    return rows


def _csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.from_data(DATA)


def test_table_is_large_and_varied() -> None:
    rows = _table()
    assert len(rows) >= 200
    assert len({text for text, _ in rows}) == len(rows), "duplicate inputs in the table"
    nothing = sum(1 for _, expected in rows if expected == "-")
    assert 60 <= nothing <= len(rows) - 150


@pytest.mark.parametrize(("text", "expected"), _table(), ids=lambda value: repr(value)[:40])
def test_locate_real_world_input(locator: Locator, text: str, expected: str) -> None:
    found = locator.locate(text)
    assert (found.area_code if found else "-") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # longest prefix: a 6-digit code inside a 5-digit one
        ("01387 212345", Location("01387", "Dumfries")),
        ("01387 312345", Location("013873", "Langholm")),
        ("01768 862345", Location("01768", "Penrith")),
        ("01768 772345", Location("017687", "Keswick")),
        # a shared code names the exchange's town
        ("028 9032 1234", Location("028", "Belfast")),
        ("023 8012 3456", Location("023", "Southampton")),
        ("023 9212 3456", Location("023", "Portsmouth")),
        ("0191 512 3456", Location("0191", "Sunderland")),
        # a bare code is made of whole digit groups only
        ("013873", Location("013873", "Langholm")),
        ("01387 3", Location("013873", "Langholm")),
        ("0161 3 days", Location("0161", "Manchester")),
        # a town keeps its own name within a wider code
        ("I'm in Sunderland", Location("0191", "Sunderland")),
        ("ls29", Location("01943", "Ilkley")),
        ("Newcastle upon Tyne", Location("0191", "Newcastle upon Tyne")),
        # nicknames and Welsh names give the usual name
        ("brum", Location("0121", "Birmingham")),
        ("Caerdydd", Location("029", "Cardiff")),
        ("Ynys Môn", Location("01248", "Anglesey")),
    ],
)
def test_locate_names_the_most_specific_place(
    locator: Locator, text: str, expected: Location
) -> None:
    assert locator.locate(text) == expected


def test_fast_number_check_agrees_with_phonenumbers(locator: Locator) -> None:
    # Three subscriber numbers per code: what the compiled fixed-line patterns accept must
    # be what phonenumbers.is_valid_number accepts (bar Ofcom's drama ranges).
    checked = 0
    for code in locator.area_codes:
        for digit in "258":
            number = (code + digit * 11)[:11]
            parsed = phonenumbers.parse(number, "GB")
            valid = phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in (
                phonenumbers.PhoneNumberType.FIXED_LINE,
                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            )
            assert (locator.locate(number) is not None) == valid, number
            checked += 1
    assert checked >= 1650


def test_drama_ranges_name_their_code_but_01632_is_nowhere(locator: Locator) -> None:
    assert locator.locate("0115 496 0000") == Location("0115", "Nottingham")
    assert locator.locate("020 7946 0999") == Location("020", "London")
    assert locator.locate("01632 960000") is None
    assert not locator.known("01632")


def test_api_known_place_for_and_codes(locator: Locator) -> None:
    assert locator.known("0161")
    assert not locator.known("161")
    assert locator.place_for("01483") == "Guildford"
    assert locator.place_for("01632") is None
    assert locator.area_codes["020"] == "London"
    with pytest.raises(TypeError):
        locator.area_codes["020"] = "Paris"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Location("0161", "Manchester").place = "Leeds"  # type: ignore[misc]


def test_area_codes_are_unique_real_and_complete() -> None:
    rows = _csv("area_codes.csv")
    codes = [row["code"] for row in rows]
    assert [code for code, n in Counter(codes).items() if n > 1] == []
    assert len(codes) >= 550
    assert all(row["place"].strip() for row in rows)
    assert all(code.isdigit() and code[:2] in ("01", "02") for code in codes)
    assert all(3 <= len(code) <= 6 for code in codes)
    assert "01632" not in codes
    expected = {"020", "023", "024", "028", "029", "0113", "0114", "0115", "0116", "0117"}
    expected |= {"0118", "0121", "0131", "0141", "0151", "0161", "0191", "01483", "01224"}
    expected |= {"013873", "015394", "015395", "015396", "016973", "016974", "016977"}
    expected |= {"017683", "017684", "017687", "019467", "015242", "013397", "013398"}
    assert expected <= set(codes)
    assert {code for code in codes if len(code) == 3} == {"020", "023", "024", "028", "029"}


def test_every_postcode_maps_to_a_known_code_and_all_124_areas_are_there() -> None:
    codes = {row["code"] for row in _csv("area_codes.csv")}
    rows = _csv("postcodes.csv")
    postcodes = [row["postcode"] for row in rows]
    assert [pc for pc, n in Counter(postcodes).items() if n > 1] == []
    assert all(row["area_code"] in codes for row in rows)
    areas = {pc for pc in postcodes if pc.isalpha()}
    assert len(areas) == 124
    assert {"GY", "JE", "IM", "ZE", "BT", "E", "EC", "WC"} <= areas
    for district in ("E1", "EC1A", "N1", "NW1", "SE1", "SW1A", "W1A", "WC2N"):
        assert {row["postcode"]: row["area_code"] for row in rows}[district] == "020"


def test_names_exchanges_and_words_refer_to_known_codes() -> None:
    codes = {row["code"] for row in _csv("area_codes.csv")}
    assert all(row["area_code"] in codes or row["area_code"] == "" for row in _csv("places.csv"))
    for row in _csv("exchanges.csv"):
        assert row["area_code"] in codes
        assert row["prefix"].startswith(row["area_code"]) and len(row["prefix"]) > len(
            row["area_code"]
        )


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def test_missing_data_file_is_a_clear_error(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    (data / "postcodes.csv").unlink()
    with pytest.raises(DataError, match=r"postcodes\.csv"):
        Locator.from_data(data)


def test_postcode_to_unknown_code_is_a_clear_error(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    with (data / "postcodes.csv").open("a", encoding="utf-8") as handle:
        handle.write("XX1,01632,Nowhere\n")
    with pytest.raises(DataError, match="XX1 refers to unknown area code '01632'"):
        Locator.from_data(data)


@pytest.mark.parametrize(
    "text",
    [
        "0" * 5000 + "a",
        "0 " * 3000 + "a",
        "+44 " * 1000 + "x",
        "a1 " * 1500,
        "a" * 4000,
        " M1" * 2000,
        " ".join(f"wobble{i}stones{i}x" for i in range(300)),
    ],
    ids=["digits", "groups", "prefixes", "outwards", "long-word", "many-outwards", "typos"],
)
def test_pathological_input_stays_fast(locator: Locator, text: str) -> None:
    started = time.perf_counter()
    locator.locate(text)
    assert time.perf_counter() - started < 0.5


def test_parent_codes_list_the_mixed_codes_parent(locator: Locator) -> None:
    assert locator.parent_codes("013873") == ["013873", "01387"]
    assert locator.parent_codes("0161") == ["0161"]
    assert locator.parent_codes("020") == ["020"]
