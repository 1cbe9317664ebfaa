"""Starting, stopping and recovering the emulator process: never a hang, always a message naming the next command."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from emulator_support import start_emulator, wait_for

from workshop import emulator
from workshop.emulator import files, launcher
from workshop.errors import WorkshopError


def _dead(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rpartition(")")[2].split()[0] == "Z"


def test_start_twice_reports_the_running_one(running):
    again = emulator.start(running.state_dir)
    assert again.already_running and again.pid == running.info.pid and again.endpoint == running.info.endpoint
    assert again.endpoint == f"http://127.0.0.1:{again.port}" and again.https_port != again.port


def test_stop_twice(running):
    pid = running.info.pid
    assert emulator.stop(running.state_dir) is True
    assert _dead(pid)
    assert not (running.state_dir / files.INFO).exists()
    assert emulator.stop(running.state_dir) is False
    assert emulator.status(running.state_dir) is None


def test_status_and_ensure_running(running):
    info = emulator.status(running.state_dir)
    assert info is not None and info.pid == running.info.pid
    assert emulator.ensure_running(running.state_dir).pid == running.info.pid
    assert info.as_status() == {
        "running": True, "pid": info.pid, "port": info.port, "https_port": info.https_port,
        "endpoint": info.endpoint, "state_file": str(running.state_dir / "state.pickle"),
    }


def test_kill_9_then_start_recovers(running):
    os.kill(running.info.pid, signal.SIGKILL)
    assert wait_for(lambda: _dead(running.info.pid), timeout=10)
    fresh = emulator.start(running.state_dir)
    assert fresh.pid != running.info.pid and not fresh.already_running
    assert any("stale pid file" in note for note in fresh.notes)
    assert emulator.status(running.state_dir).pid == fresh.pid


def test_port_taken_names_the_way_out(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(WorkshopError) as raised:
            emulator.start(tmp_path / "emulator", port=port)
    assert f"Port {port}" in raised.value.message and "workshop emulator start" in raised.value.message
    assert emulator.status(tmp_path / "emulator") is None


def test_stale_pid_file_of_another_process_is_not_trusted(tmp_path):
    state_dir = tmp_path / "emulator"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a live pid that is not an emulator (a recycled pid), then a pid that is gone
        files.write_json_atomic(state_dir / files.INFO, {"pid": other.pid, "port": 1, "https_port": 2,
                                                           "endpoint": "http://127.0.0.1:1", "state_file": "x"})
        assert emulator.status(state_dir) is None
        assert emulator.stop(state_dir) is False
        assert other.poll() is None  # never signalled
    finally:
        other.kill()
        other.wait()
    files.write_json_atomic(state_dir / files.INFO, {"pid": other.pid, "port": 1, "https_port": 2,
                                                       "endpoint": "http://127.0.0.1:1", "state_file": "x"})
    emu = start_emulator(state_dir, tmp_path)
    try:
        assert emu.info.pid != other.pid and any("stale" in note for note in emu.info.notes)
    finally:
        emulator.stop(state_dir)


def test_an_emulator_that_does_not_answer_is_reported(running, monkeypatch):
    monkeypatch.setattr(launcher, "HEALTH_TIMEOUT", 1.0)
    os.kill(running.info.pid, signal.SIGSTOP)
    try:
        with pytest.raises(WorkshopError) as raised:
            emulator.status(running.state_dir)
        assert "not answering" in raised.value.message
        assert "`workshop emulator stop` then `workshop emulator start`" in raised.value.message
    finally:
        os.kill(running.info.pid, signal.SIGCONT)


def test_crash_while_starting_is_reported_with_the_log(tmp_path, monkeypatch):
    state_dir = tmp_path / "emulator"
    state_dir.mkdir()
    (state_dir / "tls").write_text("not a folder")  # the TLS files cannot be created: the process exits at start
    started = time.monotonic()
    with pytest.raises(WorkshopError) as raised:
        emulator.start(state_dir)
    assert time.monotonic() - started < 30
    assert "stopped while starting" in raised.value.message and "emulator.log" in raised.value.message
    assert raised.value.detail  # the log's last lines
    assert emulator.status(state_dir) is None


def test_state_from_another_moto_version_is_set_aside(tmp_path):
    state_dir = tmp_path / "emulator"
    state_dir.mkdir()
    (state_dir / files.STATE).write_bytes(json.dumps({"format": 1, "moto": "0.0.1"}).encode() + b"\nrest")
    emu = start_emulator(state_dir, tmp_path)
    try:
        (note,) = emu.info.notes
        assert "moto 0.0.1" in note and "`workshop deploy all`" in note
        assert (state_dir / "state.pickle.moto-0.0.1").exists()
    finally:
        emulator.stop(state_dir)


def test_sigterm_saves_the_state_and_start_restores_it(running):
    sqs, ddb = running.client("sqs"), running.client("dynamodb")
    queue = sqs.create_queue(QueueName="kept")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    ddb.create_table(TableName="kept", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])
    ddb.put_item(TableName="kept", Item={"k": {"S": "v"}})
    arn = ddb.describe_table(TableName="kept")["Table"]["TableArn"]
    os.kill(running.info.pid, signal.SIGTERM)  # what `workshop emulator stop` sends
    assert wait_for(lambda: _dead(running.info.pid), timeout=20)
    assert not (running.state_dir / files.INFO).exists()  # a clean exit removes its pid file
    running.info = emulator.start(running.state_dir)
    sqs, ddb = running.client("sqs"), running.client("dynamodb")
    assert ddb.get_item(TableName="kept", Key={"k": {"S": "v"}})["Item"] == {"k": {"S": "v"}}
    assert ddb.describe_table(TableName="kept")["Table"]["TableArn"] == arn
    assert sqs.get_queue_url(QueueName="kept")["QueueUrl"] == queue  # same port, same URL
    message = sqs.receive_message(QueueUrl=queue)["Messages"][0]
    assert message["Body"] == "hello"


def test_listens_on_loopback_only(running):
    with open("/proc/net/tcp") as handle:
        rows = [line.split() for line in handle.readlines()[1:]]
    ours = {f"{port:04X}" for port in (running.info.port, running.info.https_port)}
    listening = [row[1] for row in rows if row[3] == "0A" and row[1].split(":")[1] in ours]
    assert sorted(addr.split(":")[0] for addr in listening) == ["0100007F", "0100007F"]


def test_a_moto_that_cannot_load_is_reported(tmp_path, monkeypatch):
    fake = tmp_path / "fake"
    (fake / "moto").mkdir(parents=True)
    (fake / "moto" / "__init__.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake))  # shadows the real moto in the emulator process only
    state_dir = tmp_path / "emulator"
    try:
        with pytest.raises(WorkshopError) as raised:
            emulator.start(state_dir)  # returns once listening; moto loads after that
            wait_for(lambda: emulator.status(state_dir) and False, timeout=30)
        assert "could not load moto" in raised.value.message and "broken on purpose" in raised.value.message
        assert "`workshop emulator stop` then `workshop emulator start`" in raised.value.message
    finally:
        emulator.stop(state_dir)
