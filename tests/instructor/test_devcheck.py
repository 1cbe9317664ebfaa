"""`workshop dev check` proves every checkpoint deploys: each handler its serverless.yml names exists (issue 12 item 9)."""

from __future__ import annotations

import shutil


def test_a_checkpoint_naming_a_missing_handler_fails_dev_check(tmp_path, monkeypatch, sample_course):
    from workshop.course import model as course
    from workshop.instructor import devcheck

    copy = tmp_path / "course"
    shutil.copytree(sample_course, copy)
    yml = copy / "checkpoints" / "start" / "svc-b" / "serverless.yml"
    yml.write_text(yml.read_text().replace("handler: app.handler", "handler: app.removed_handler"))
    for patch in (copy / "solutions").glob("*.patch"):
        patch.write_text(patch.read_text().replace("handler: app.handler", "handler: app.removed_handler"))
    monkeypatch.setenv("WORKSHOP_COURSE_DIR", str(copy))
    course._load.cache_clear()
    report = {item.name: item for item in devcheck.check_course(course.load(), run_tests=False)}
    item = report["every checkpoint's serverless.yml names handlers its code defines"]
    assert not item.ok and "start: svc-b/serverless.yml: Request's handler app.removed_handler names `removed_handler`" in item.detail


def test_run_orchestrates_and_reports_each_item(monkeypatch, sample_course):
    from workshop.course import model as course
    from workshop.instructor import devcheck

    seen, phases = [], []
    report = devcheck.run(course.load(), run_tests=False, live=False, on_item=seen.append, on_phase=phases.append)
    assert seen == report and report[0].name == "every check named in course.toml exists" and not report[0].ok
