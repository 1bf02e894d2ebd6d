"""`--help` on the commands whose arguments are config overrides: the command's usage on
stdout, exit 0, and nothing prepared or trained (Hydra alone would read it as a malformed
override)."""
from __future__ import annotations

import pytest

from seq2seq.cli import prepare, train


@pytest.mark.parametrize("command,name", [(train, "seq2seq-train"),
                                          (prepare, "seq2seq-prepare")])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage_and_does_nothing_else(command, name, flag, tmp_path,
                                                     monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        command.main(["experiment=bible_demo", flag, f"trainer.run_dir={tmp_path / 'run'}"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{name}: ") and "config reference" in out
    assert list(tmp_path.iterdir()) == []
