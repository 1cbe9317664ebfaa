"""Issue 13 items 8, 9, 12 and 13 on the emulator side: the saved state is signed and never unpickled without proof,
the process inherits an allowlist, its files are its owner's, a taken port is replaced and a cut file is reported."""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import stat
from pathlib import Path

import pytest
from emulator_support import start_emulator, wait_for

from workshop import emulator
from workshop.emulator import files, launcher, persist


class _Creates:
    """Unpickling this creates a file: proof that a loaded pickle ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _crafted(state_file, marker, header):
    payload = pickle.dumps({("moto.sqs.models", "sqs_backends"): _Creates(marker)})
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_bytes(json.dumps(header).encode() + b"\n" + payload)
    return payload


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


# --- signing, in process ----------------------------------------------------------------------------------------------


def _signed(state_file, payload):
    moto = persist.moto_version()
    header = {"format": persist.FORMAT, "moto": moto, "size": len(payload),
              "sig": persist._signature(persist.signing_key(), moto, payload)}
    state_file.write_bytes(json.dumps(header).encode() + b"\n" + payload)


@pytest.fixture
def own_key(tmp_path, monkeypatch):
    key = tmp_path / "keys" / "emulator-state.key"
    monkeypatch.setenv("WORKSHOP_STATE_KEY_FILE", str(key))
    return key


def test_the_key_is_made_once_private_and_outside_the_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKSHOP_STATE_KEY_FILE")
    key = persist.signing_key()
    path = persist.key_file()
    assert path.is_relative_to(os.environ["WORKSHOP_HOME"]) and len(key) == persist.KEY_BYTES  # the per-user home
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert persist.signing_key() == key


@pytest.mark.parametrize("header", [
    {"format": 1, "moto": "CURRENT"},  # the old unsigned format, this moto: what item 8's attack used
    {"format": 2, "moto": "CURRENT", "size": "SIZE", "sig": "0" * 64},  # a forged signature
    {"format": 2, "moto": "CURRENT", "size": "SIZE"},  # none at all
])
def test_a_crafted_state_is_set_aside_unread(own_key, tmp_path, header):
    state_file, marker = tmp_path / "emu" / files.STATE, tmp_path / "pwned"
    header = {k: persist.moto_version() if v == "CURRENT" else v for k, v in header.items()}
    payload = _crafted(state_file, marker, header)
    if header.get("size") == "SIZE":
        header["size"] = len(payload)
        _crafted(state_file, marker, header)
    assert not persist.loads_cleanly(state_file)
    note = persist.restore(state_file)
    assert not marker.exists(), "the crafted pickle was loaded"
    assert "does not carry your signature" in note and "set aside unread as state.pickle.unsigned" in note
    assert "`workshop deploy all`" in note and not state_file.exists()
    assert (state_file.parent / "state.pickle.unsigned").exists()


def test_a_state_signed_with_another_key_or_edited_is_refused(own_key, tmp_path, monkeypatch):
    import cloudpickle

    state_file = tmp_path / "emu" / files.STATE
    state_file.parent.mkdir()
    payload = cloudpickle.dumps({})
    _signed(state_file, payload)
    assert persist.loads_cleanly(state_file) and persist.restore(state_file) is None  # ours: loads
    _signed(state_file, payload)
    data = bytearray(state_file.read_bytes())
    data[-2] ^= 1  # one bit of the pickle
    state_file.write_bytes(bytes(data))
    assert "does not carry your signature" in persist.restore(state_file)
    _signed(state_file, payload)
    monkeypatch.setenv("WORKSHOP_STATE_KEY_FILE", str(tmp_path / "other.key"))  # another user's key
    assert not persist.loads_cleanly(state_file)
    assert "does not carry your signature" in persist.restore(state_file)


def test_a_truncated_state_says_it_was_cut_short(own_key, tmp_path):
    import cloudpickle

    state_file = tmp_path / "emu" / files.STATE
    state_file.parent.mkdir()
    _signed(state_file, cloudpickle.dumps({"x": list(range(1000))}))
    whole = state_file.read_bytes()
    state_file.write_bytes(whole[: len(whole) // 2])
    assert not persist.loads_cleanly(state_file)
    note = persist.restore(state_file)
    assert "cut short" in note and "state.pickle.damaged" in note and "`workshop deploy all`" in note


def test_a_header_naming_a_path_cannot_move_the_file_elsewhere(own_key, tmp_path):
    state_file = tmp_path / "emu" / files.STATE
    _crafted(state_file, tmp_path / "pwned", {"format": 1, "moto": "../../escaped"})
    note = persist.restore(state_file)
    assert "moto of an unknown version" in note and (state_file.parent / "state.pickle.moto-unknown").exists()
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.glob("*escaped*"))


# --- the emulator process ---------------------------------------------------------------------------------------------


def test_start_refuses_a_crafted_state_and_says_so(tmp_path):
    """`workshop emulator start` (and ride, logs, verify, which start it) unpickled .workshop/emulator/state.pickle."""
    state_dir, marker = tmp_path / "emulator", tmp_path / "pwned"
    _crafted(state_dir / files.STATE, marker, {"format": 1, "moto": persist.moto_version()})
    emu = start_emulator(state_dir, tmp_path)
    try:
        assert not marker.exists(), "the crafted pickle ran code in the emulator"
        assert any("does not carry your signature" in n for n in emu.info.notes), emu.info.notes
        assert (state_dir / "state.pickle.unsigned").exists()
    finally:
        emulator.stop(state_dir)


def test_the_emulator_inherits_an_allowlist_and_keeps_its_files_private(tmp_path, monkeypatch):
    state_dir = tmp_path / "emulator"
    state_dir.mkdir()
    (state_dir / files.LOG).write_text("an old log\n")
    (state_dir / files.LOG).chmod(0o644)
    for name, value in {"GITHUB_TOKEN": "ghp_secret", "AWS_SECRET_ACCESS_KEY": "real", "AWS_PROFILE": "prod",
                        "MOTO_ALLOW_NONEXISTENT_REGION": "1", "NPM_TOKEN": "npm_secret", "SSH_AUTH_SOCK": "/tmp/agent"}.items():
        monkeypatch.setenv(name, value)
    real_home = os.environ["HOME"]
    emu = start_emulator(state_dir, tmp_path)
    for name in ("AWS_PROFILE", "AWS_SECRET_ACCESS_KEY"):  # this test's own client talks to the emulator
        monkeypatch.delenv(name)
    try:
        raw = Path(f"/proc/{emu.info.pid}/environ").read_bytes().split(b"\0")
        env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        assert not {"GITHUB_TOKEN", "AWS_PROFILE", "MOTO_ALLOW_NONEXISTENT_REGION", "NPM_TOKEN", "SSH_AUTH_SOCK"} & set(env)
        assert env["AWS_SECRET_ACCESS_KEY"] == "testing" and env["HOME"] == str(state_dir.resolve() / "home") != real_home
        assert set(env) <= {*launcher.ENV_ALLOW, "HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
                            "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
                            "WORKSHOP_STATE_KEY_FILE", "MOTO_PORT"} | {k for k in env if k.startswith(launcher.ENV_ALLOW_PREFIXES)}
        emu.client("sqs").create_queue(QueueName="kept")
    finally:
        emulator.stop(state_dir)
    assert _mode(state_dir / files.STATE) == 0o600 and _mode(state_dir / files.LOG) == 0o600


def test_a_remembered_port_taken_by_another_program_is_replaced_and_said(tmp_path):
    state_dir = tmp_path / "emulator"
    emu = start_emulator(state_dir, tmp_path)
    old = emu.info.port
    emulator.stop(state_dir)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old))
        squatter.listen()
        try:
            fresh = emulator.start(state_dir)
            assert fresh.port != old
            assert any(f"Port {old}" in n and f"now listens on {fresh.port}" in n for n in fresh.notes), fresh.notes
            assert emulator.status(state_dir).port == fresh.port
        finally:
            emulator.stop(state_dir)


def test_a_truncated_state_is_reported_at_start(tmp_path):
    state_dir = tmp_path / "emulator"
    emu = start_emulator(state_dir, tmp_path)
    emu.client("sqs").create_queue(QueueName="kept")
    os.kill(emu.info.pid, signal.SIGTERM)  # saves
    assert wait_for(lambda: not (state_dir / files.INFO).exists(), timeout=20)
    whole = (state_dir / files.STATE).read_bytes()
    (state_dir / files.STATE).write_bytes(whole[: len(whole) // 2])
    fresh = emulator.start(state_dir)
    try:
        assert any("cut short" in n for n in fresh.notes), fresh.notes
    finally:
        emulator.stop(state_dir)


def test_a_command_that_starts_the_emulator_on_its_way_shows_its_notes(tmp_path, cli, monkeypatch):
    """`teardown --check` after a cut state file said nothing was left and nothing else: the note only reached the log."""
    root = tmp_path / "ws"
    assert cli("init", str(root)).exit_code == 0
    state_dir = root / ".workshop" / "emulator"
    emu = start_emulator(state_dir, tmp_path)
    emu.client("sqs").create_queue(QueueName="kept")
    emulator.stop(state_dir)
    whole = (state_dir / files.STATE).read_bytes()
    (state_dir / files.STATE).write_bytes(whole[: len(whole) // 2])
    monkeypatch.chdir(root)
    try:
        result = cli("teardown", "--check")
        assert result.exit_code == 0, result.output
        assert "cut short" in result.output and "set aside" in result.output, result.output
        assert "cut short" not in cli("teardown", "--check").output  # said once, not on every command
    finally:
        emulator.stop(state_dir)
