"""Board profiles: the single source the PlatformIO board manifests are generated from."""

from __future__ import annotations

import json

import pytest

from tinyqi.errors import TinyqiError
from tinyqi.firmware.boards import BOARD_MANIFEST_DIR, BOARDS, board_manifest, get_board, manifest_text


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_committed_manifest_is_generated_from_the_profile(name):
    committed = (BOARD_MANIFEST_DIR / f"{name}.json").read_text()
    assert committed == manifest_text(BOARDS[name]), (
        f"firmware/platform/boards/{name}.json drifted from tinyqi/firmware/boards.py; "
        "regenerate it with `python -m tinyqi.firmware.boards`")


def test_no_manifest_without_a_profile():
    assert sorted(path.stem for path in BOARD_MANIFEST_DIR.glob("*.json")) == sorted(BOARDS)


def test_profiles_match_the_datasheet_memory_maps():
    nrf, stm = get_board("nrf52840"), get_board("stm32l4r5")
    assert (nrf.clock_hz, nrf.flash_origin, nrf.flash_bytes, nrf.ram_origin, nrf.ram_bytes) == \
        (64_000_000, 0x0, 1 << 20, 0x2000_0000, 256 << 10)
    assert (stm.clock_hz, stm.flash_origin, stm.flash_bytes, stm.ram_origin, stm.ram_bytes) == \
        (120_000_000, 0x0800_0000, 2 << 20, 0x2000_0000, 640 << 10)


def test_manifest_carries_the_memory_map_and_pyocd_target():
    manifest = json.loads(manifest_text(get_board("stm32l4r5")))
    layout = manifest["build"]["tinyqi"]
    assert (layout["flash_origin"], layout["flash_size"], layout["ram_size"]) == (0x0800_0000, 2 << 20, 640 << 10)
    assert manifest["upload"]["pyocd_target"] == "stm32l4r5zitx"
    assert manifest["build"]["f_cpu"] == "120000000L"
    assert board_manifest(get_board("nrf52840"))["upload"]["maximum_ram_size"] == 256 << 10


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_energy_figure_names_its_source_and_status(name):
    energy = BOARDS[name].energy
    for figure in (energy.supply_voltage, energy.run_current, energy.sleep_current):
        assert figure.status in ("secondary", "unverified")
        assert len(figure.source) > 20
        assert figure.value is not None or figure.status == "unverified"


def test_unknown_figure_refuses_to_be_used():
    figure = get_board("stm32l4r5").energy.run_current
    with pytest.raises(TinyqiError, match="no verified figure"):
        figure.require("board stm32l4r5")
    assert get_board("nrf52840").energy.run_current.require("board nrf52840") == pytest.approx(3.3e-3)


def test_unknown_board_is_one_clear_error():
    with pytest.raises(TinyqiError, match=r"--board esp32: unknown board; choose one of nrf52840, stm32l4r5"):
        get_board("esp32")
