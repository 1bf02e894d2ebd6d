"""Every shipped config composes, applies what it says, and bad keys/values fail in one line."""
from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
from omegaconf import OmegaConf

from seq2seq.config import compose as config_mod
from seq2seq.config.compose import (CONF_DIR, REPO_ROOT, ConfigError, config_from_dict,
                            config_to_dict, load_config)

from conftest import run_cli

# Nested groups too (model/encoder, model/decoder); Hydra's own settings are not ours.
GROUPS = sorted(d.relative_to(CONF_DIR).as_posix() for d in CONF_DIR.rglob("*")
                if d.is_dir() and not d.relative_to(CONF_DIR).as_posix().startswith("hydra"))
GROUP_FILES = [(g, f.stem) for g in GROUPS if g not in ("experiment", "debug")
               for f in sorted((CONF_DIR / g).glob("*.yaml"))]
GLOBAL_FILES = [(g, f.stem) for g in ("experiment", "debug")
                for f in sorted((CONF_DIR / g).glob("*.yaml"))]


# Parts that only compose with another choice: no encoder is a language model's.
TAGGER = ["model/encoder=words", "model/decoder=tags", "model.reverse_source=false"]
NEEDS = {("model/encoder", "none"): ["task=language_model", "data=bible_en"],
         ("model/decoder", "classifier"): ["task=classification"],
         ("model/encoder", "image"): ["task=captioning", "data=emoji_captions"],
         ("model/encoder", "frames"): ["task=captioning", "data=digit_frames"],
         # a data file is a task's node: its keys are that task's
         ("data", "digit_frames"): ["task=captioning", "model/encoder=frames"],
         ("data", "digit_strings"): ["task=captioning", "model/encoder=image"],
         ("data", "emoji_captions"): ["task=captioning", "model/encoder=image"],
         ("data", "sentiment_movies"): ["task=classification", "model/decoder=classifier"],
         ("data", "bible_en"): ["task=language_model", "model/encoder=none"],
         ("data", "ud_ewt"): ["task=tagging", *TAGGER],
         ("data", "uner_ewt"): ["task=tagging", *TAGGER],
         ("model/encoder", "words"): ["task=tagging", "data=ud_ewt", "model/decoder=tags",
                                      "model.reverse_source=false"],
         ("model/decoder", "tags"): ["task=tagging", "data=ud_ewt", "model/encoder=words",
                                     "model.reverse_source=false"]}


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _yaml(group: str, name: str) -> dict:
    d = OmegaConf.to_container(OmegaConf.load(CONF_DIR / group / f"{name}.yaml"))
    d.pop("defaults", None)
    return d


def test_the_shipped_groups_are_all_found():
    assert {"data", "tokenizer", "model", "model/encoder", "model/decoder", "optim", "trainer",
            "decode", "experiment", "debug"} <= set(GROUPS)
    assert len(GROUP_FILES) >= 6 and len(GLOBAL_FILES) >= 2


@pytest.mark.parametrize("group,name", GROUP_FILES, ids=[f"{g}={n}" for g, n in GROUP_FILES])
def test_every_group_file_composes_and_applies(group, name):
    cfg = config_to_dict(load_config([f"{group}={name}", *NEEDS.get((group, name), [])]))
    for part in group.split("/"):  # model/encoder: cfg["model"]["encoder"]
        cfg = cfg[part]
    composed = _flat(cfg)
    for key, value in _flat(_yaml(group, name)).items():
        if isinstance(value, str) and "${" in value:
            continue  # an interpolation: resolved, so not equal to its text
        assert composed[key] == value, f"{group}.{key}"


@pytest.mark.parametrize("group,name", GLOBAL_FILES, ids=[f"{g}={n}" for g, n in GLOBAL_FILES])
def test_every_experiment_and_debug_file_composes_and_applies(group, name):
    cfg = _flat(config_to_dict(load_config([f"{group}={name}"])))
    for key, value in _flat(_yaml(group, name)).items():
        if not (isinstance(value, str) and "${" in value):
            assert cfg[key] == value, key
    # Its `override /group: file` defaults are applied too (its own keys win over them).
    raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / group / f"{name}.yaml"))
    own = _flat(_yaml(group, name))
    for entry in raw.get("defaults", []):
        for k, v in (entry.items() if isinstance(entry, dict) else []):
            target = k.split()[-1].strip("/")
            prefix = target.replace("/", ".")  # model/encoder -> model.encoder
            for key, value in _flat(_yaml(target, v)).items():
                if f"{prefix}.{key}" not in own:
                    assert cfg[f"{prefix}.{key}"] == value, f"{prefix}.{key}"


def test_debug_smoke_shrinks_every_experiment():
    for _, name in [gf for gf in GLOBAL_FILES if gf[0] == "experiment"]:
        cfg = load_config([f"experiment={name}", "debug=smoke"])
        assert cfg.trainer.max_steps is not None and cfg.model.hidden_dim <= 64


ALL = [[]] + [[f"{g}={n}", *NEEDS.get((g, n), [])] for g, n in GROUP_FILES + GLOBAL_FILES]


@pytest.mark.parametrize("overrides", ALL, ids=[" ".join(o) or "default" for o in ALL])
def test_config_survives_the_checkpoint_round_trip(overrides):
    cfg = load_config(overrides)
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_every_config_file_says_how_to_run_it():
    for path in [CONF_DIR / "train.yaml", *sorted(CONF_DIR.glob("*/*.yaml")),
                 *sorted(CONF_DIR.glob("model/*/*.yaml"))]:
        head = path.read_text().splitlines()[:4]
        assert any(line.startswith("#") and "seq2seq-" in line for line in head), path


def _documented_commands() -> list[list[str]]:
    """The config overrides of every `seq2seq-train` / `seq2seq-prepare` example in the
    package's docstrings, the config files' headers and the README (placeholders skipped)."""
    sources = [*sorted((REPO_ROOT / "seq2seq").glob("*.py")),
               CONF_DIR / "train.yaml", *sorted(CONF_DIR.glob("*/*.yaml")),
               *[p for p in [REPO_ROOT / "README.md"] if p.is_file()]]
    found = []
    for path in sources:
        for line in path.read_text().splitlines():
            m = re.search(r"seq2seq-(?:train|prepare)\s+(.*)", line)
            if not m:
                continue
            args = [a for a in m.group(1).split("#")[0].split()
                    if re.fullmatch(r"[\w.+~]+=[^\s\[\]$`]+", a) and "..." not in a
                    and not a.split("=")[1].isupper() and "no_such_key" not in a]
            if args and args not in found:
                found.append(args)
    return found


DOCUMENTED = _documented_commands()


def test_documented_commands_are_found():
    assert ["debug=smoke"] in DOCUMENTED and len(DOCUMENTED) >= 10


@pytest.mark.parametrize("overrides", DOCUMENTED, ids=[" ".join(o) for o in DOCUMENTED])
def test_every_documented_command_composes(overrides):
    for arg in overrides:
        key, value = arg.split("=", 1)
        if key in GROUPS:  # the option it selects is shipped
            assert (CONF_DIR / key / f"{value}.yaml").is_file(), arg
    load_config(overrides)


# ------------------------------------------------------------------ errors, one line each
BAD = [(["model.no_such_key=1"], "model.no_such_key"),
       (["optim.lr=abc"], "optim.lr"),
       (["optim.lr=-0.1"], "optim.lr"),
       (["decode.beam_size=0"], "decode.beam_size"),
       (["model.dropout=1.0"], "model.dropout"),
       (["trainer.max_steps=many"], "trainer.max_steps"),
       (["decode.beam_size=2", "decode.nbest=3"], "decode.nbest"),
       (["optim.schedule_over=time"], "optim.schedule_over"),
       (["trainer.patience=0"], "trainer.patience"),
       (["trainer.min_delta=-1"], "trainer.min_delta")]


@pytest.mark.parametrize("overrides,key", BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_values_fail_in_one_line_naming_the_key(overrides, key):
    with pytest.raises(ConfigError) as exc:
        load_config(overrides)
    msg = str(exc.value)
    assert "\n" not in msg and key in msg


@pytest.mark.parametrize("override,key", [
    ("optim.halve_every=0", "optim.halve_every"),  # paper_lr divides by it at epoch 5
    ("decode.batch_size=0", "decode.batch_size"),  # range(0, n, 0) at the first evaluation
])
def test_values_that_crash_later_are_rejected_up_front(override, key):
    with pytest.raises(ConfigError) as exc:
        load_config([override])
    assert key in str(exc.value)


def test_an_appended_unknown_key_is_not_silently_dropped():
    """`+model.hiden_dim=512` (a typo) must not be accepted and then ignored."""
    with pytest.raises(ConfigError) as exc:
        load_config(["+model.hiden_dim=512"])
    assert "model.hiden_dim" in str(exc.value)


def test_a_typo_in_a_group_file_fails_naming_it(tmp_path, monkeypatch):
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "model" / "typo.yaml").write_text("hiden_dim: 3\n")
    monkeypatch.setattr(config_mod, "CONF_DIR", conf)
    with pytest.raises(ConfigError) as exc:
        load_config(["model=typo"])
    assert "\n" not in str(exc.value) and "model.hiden_dim" in str(exc.value)


@pytest.mark.parametrize("group", ["model", "experiment", "debug"])
def test_an_unknown_group_option_fails_in_one_line(group):
    """`debug=smokee` must not silently train the full-size default run."""
    with pytest.raises(ConfigError) as exc:
        load_config([f"{group}=no_such_option"])
    assert "\n" not in str(exc.value) and "no_such_option" in str(exc.value)


def test_exactly_one_data_source():
    with pytest.raises(ConfigError, match="data"):
        load_config(["data.hub_path=somewhere"])  # local_dir is set as well
    cfg = load_config(["data.hub_path=somewhere", "data.local_dir=null"])
    assert cfg.data.hub_path == "somewhere"


def test_config_from_dict_rejects_unknown_keys():
    d = config_to_dict(load_config([]))
    d["model"]["no_such_key"] = 1
    with pytest.raises(ConfigError, match="no_such_key"):
        config_from_dict(d)


def test_cli_bad_key_exits_with_one_stderr_line(tmp_path):
    result = run_cli("seq2seq-train", "model.no_such_key=1", cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model.no_such_key" in lines[0], result.stderr
    assert not (tmp_path / "runs").exists()  # failed before making a run directory


def test_the_readme_config_reference_is_current():
    from seq2seq.config.reference import END, START, reference
    readme = (REPO_ROOT / "README.md").read_text()
    assert readme[readme.index(START): readme.index(END) + len(END)] == reference(), \
        "regenerate: python -m seq2seq.config.reference"


def test_every_key_has_a_comment_in_the_reference():
    from seq2seq.config.reference import GROUPS, field_comments, own_fields
    covered = set()
    for group, cls in GROUPS:
        comments = field_comments(cls)
        covered.add(cls)
        for f in own_fields(cls):
            assert comments.get(f.name), f"{group}.{f.name} has no comment in schema.py"
    # and every group of the schema has its table
    assert {f.default_factory for f in dataclasses.fields(config_mod.TrainConfig)
            if f.default is dataclasses.MISSING} <= covered


@pytest.mark.parametrize("old,noun", [("classify", "classification"), ("caption", "captioning"),
                                      ("tag", "tagging")])
def test_a_task_s_verb_names_it_too_and_saved_configs_read_as_its_noun(old, noun):
    """Task ids are nouns; the command's verb (the id of two tasks before issue 28) still
    names the task on the command line and in a saved config, which reads as the noun, so
    an old run resumes under today's experiment file."""
    experiment = {"classification": "sentiment", "captioning": "emoji", "tagging": "ud_upos"}
    cfg = load_config([f"experiment={experiment[noun]}", f"task={old}"])
    assert cfg.task == noun
    saved = config_to_dict(cfg)
    saved["task"] = old
    assert config_from_dict(saved, saved=True) == cfg
