"""``fedwave cache``: list and clear, exit codes."""

from __future__ import annotations

import json

from sim.cli import main


def make_cache(root):
    base = root / "tiny-bases" / "llama-h16-abc"
    base.mkdir(parents=True)
    (base / "weights.pt").write_bytes(b"x" * 1500)
    (base / "meta.json").write_text(json.dumps({"kind": "tiny base"}))
    (root / "tiny-bases" / ".llama-h16-abc.tmp").mkdir()  # half-written: not an item
    (root / "smollm2-135m-instruct-q4_1").mkdir()
    (root / "smollm2-135m-instruct-q4_1" / "config.json").write_text("{}")


def test_list_then_clear_one_then_all(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FEDWAVE_CACHE", str(tmp_path))
    make_cache(tmp_path)

    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}: 2 item(s)" in out
    assert "tiny-bases/llama-h16-abc  (tiny base, 1.5 kB)" in out and "smollm2-135m-instruct-q4_1" in out
    assert ".tmp" not in out

    assert main(["cache", "clear", "tiny-bases/llama-h16-abc"]) == 0
    assert "removed 1 item(s)" in capsys.readouterr().out
    assert not (tmp_path / "tiny-bases" / "llama-h16-abc").exists()
    assert (tmp_path / "smollm2-135m-instruct-q4_1").exists()

    assert main(["cache", "clear", "--all"]) == 0
    assert main(["cache", "list"]) == 0
    assert "0 item(s)" in capsys.readouterr().out


def test_bad_cache_requests_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FEDWAVE_CACHE", str(tmp_path))
    make_cache(tmp_path)
    for argv in (["cache", "clear"], ["cache", "clear", "nope"], ["cache", "clear", "x", "--all"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("fedwave cache clear:"), err
    assert (tmp_path / "tiny-bases" / "llama-h16-abc").exists()  # nothing removed
