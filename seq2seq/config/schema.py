"""The config's schema: typed dataclasses, one per group of seq2seq/conf/, and the values some
keys may take. seq2seq/config/compose.py registers them with Hydra and composes configs from them;
seq2seq/config/checks.py holds the checks that types alone cannot express.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass
class CorpusConfig:
    """What every task's data node has: where the corpus is, its splits, how much of it is
    read and where its preparation goes. A task's own node adds its keys to these (the
    task's `data_config`), so a key of another task's data fails like any unknown key."""
    # Local files under this directory (each task says how they are named), or
    local_dir: Optional[str] = None
    # a hub dataset, e.g. path=wmt/wmt14 name=fr-en (read through `datasets`).
    hub_path: Optional[str] = None
    hub_name: Optional[str] = None  # the hub dataset's configuration (a language pair)
    train_split: str = "train"  # split names: file prefixes, or the hub dataset's splits
    dev_split: str = "dev"  # dev metrics and the best checkpoint are measured on it
    test_split: str = "test"  # prepared for inference and scoring; never seen in training
    # The first N training examples: a slice for smoke runs, or the paper's 12M of WMT'14's
    # 40.8M.
    max_train_sentences: Optional[int] = None
    # Training examples longer than this (in pieces) are dropped, counted (labelled text: a
    # longer training text keeps its first max_len pieces)
    max_len: int = 80
    # A training line that is not valid UTF-8: stop naming file and line, or skip the pair
    # (counted in the log). Dev, test and inference input are always strict.
    on_bad_line: str = "error"  # error | skip
    prepared_dir: str = "data/prepared/${data.name}"  # where seq2seq-prepare writes
    num_proc: Optional[int] = None  # processes encoding the corpus (default: every core)
    name: str = "bible-es-en"  # names the prepared data folder


@dataclass
class DataConfig(CorpusConfig):
    """Parallel text: f"{local_dir}/{split}.{lang}" (plain or .xz), line N = line N, or a hub
    dataset in the `translation` format."""
    src_lang: str = "es"  # the language read (file suffix, or the hub pair's key)
    tgt_lang: str = "en"  # the language written
    # Extra references for the test split (files named f"{test_split}.{lang}").
    extra_ref_langs: list[str] = field(default_factory=list)


@dataclass
class TokenizerConfig:
    model_type: str = "unigram"  # unigram | bpe | char | word (the paper: word, unk for the rest)
    joint: bool = False  # one model for both sides, or one per side
    src_vocab_size: int = 8000  # pieces (the paper: 160k words)
    tgt_vocab_size: int = 8000  # pieces (the paper: 80k words); the softmax is the costliest layer
    character_coverage: float = 1.0  # below 1 maps the rarest characters to unk (CJK)
    input_sentence_size: int = 1_000_000  # sentences sampled to train sentencepiece
    # Apart from trainer.seed: runs with other training seeds share one preparation and
    # one vocabulary, as an ensemble needs.
    seed: int = 1


TEXT_ENCODER = "seq2seq.models.encoders.text_encoder"
NO_ENCODER = "seq2seq.models.encoders.no_encoder"


@dataclass
class EncoderConfig:
    # What builds the encoder: the dotted path of a function (ModelConfig, PartInput: the
    # source vocabulary's size, or the images' ImageShape; seq2seq/models/encoder_decoder.py)
    # -> encoder (seq2seq/models/encoders.py), so a new encoder is a module and a
    # seq2seq/conf/model/encoder/ file. text_encoder (the paper's) | no_encoder (a language
    # model) | a task's own (the captioning task's image_encoder, frame_encoder). A builder
    # with a `config` attribute (a subclass of this) has its own keys besides these.
    build: str = TEXT_ENCODER
    bidirectional: bool = False  # reads both ways; a bridge maps 2 x hidden_dim -> model's
    # Units per direction (default model.hidden_dim). With bidirectional, hidden_dim/2 costs
    # about what a one-way encoder does (OpenNMT-py's brnn splits the size this way).
    hidden_dim: Optional[int] = None


@dataclass
class DecoderConfig:
    # A function (ModelConfig, PartInput: the target vocabulary's size, or a classifier
    # head's labels; seq2seq/models/encoder_decoder.py) -> decoder (seq2seq/models/decoder.py).
    build: str = "seq2seq.models.decoder.recurrent_decoder"
    attention: str = "none"  # none (the paper) | dot | general (Luong et al. 2015)
    input_feeding: bool = False  # previous attentional vector joins the input (a step loop)


@dataclass
class ModelConfig:
    emb_dim: int = 256  # word vectors (the paper: 1000)
    hidden_dim: int = 256  # LSTM cells per layer (the paper: 1000)
    layers: int = 2  # stacked layers in encoder and decoder (the paper: 4)
    dropout: float = 0.0  # the paper uses none
    init_range: float = 0.08  # uniform(-0.08, 0.08), paper section 3.4
    reverse_source: bool = True  # paper section 3.3
    cell: str = "lstm"  # lstm | gru (no cell state)
    # seq2seq/conf/model/encoder/: the keys of the node its `build` names (`config`)
    encoder: Any = field(default_factory=EncoderConfig)
    # seq2seq/conf/model/decoder/: the keys of the node its `build` names (`config`)
    decoder: Any = field(default_factory=DecoderConfig)
    # task=classification: start the encoder's embedding and recurrent layers from a trained
    # language model's run directory (ULMFiT); its sentencepiece model becomes this run's.
    init_from: Optional[str] = None


@dataclass
class OptimConfig:
    lr: float = 0.7  # paper section 3.4
    halve_after: float = 5.0  # epochs of constant lr before halving starts
    halve_every: float = 0.5  # then halve every half epoch
    epochs: float = 7.5  # the paper's 7.5; trainer.max_time can end training first
    # What the schedule counts: epochs (the paper), or the share of the training budget
    # spent (optim.epochs, trainer.max_time, trainer.max_steps: whichever ends training
    # first), times optim.epochs. With budget, a run cut short by max_time still halves.
    schedule_over: str = "epochs"  # epochs | budget
    clip_norm: float = 5.0  # if ||g|| > 5, g = 5 g / ||g|| (the paper): keeps LSTMs stable
    loss_per: str = "sentence"  # sentence (paper: divide by batch size) | token
    name: str = "sgd"  # sgd (the paper) | adam (lr about 0.001); the lr schedule applies to both
    label_smoothing: float = 0.0  # the paper uses none; 0.1 is common with attention models


@dataclass
class TrainerConfig:
    run_dir: str = "runs/${now:%Y-%m-%d_%H-%M-%S}"  # everything of the run; rerun to resume
    seed: int = 1  # initial parameters, dropout and batch order (ensembles differ here)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default (one per core)
    # autocast for the training forward pass (parameters and updates stay fp32). bf16: up to
    # 1.7x faster on CPUs with AVX512-BF16 or AMX (slower on some: auto times it), and on
    # recent GPUs; fp16: for GPUs without bf16 (V100, T4), with a dynamic loss scale
    # (torch.amp.GradScaler); auto: bf16 where the hardware has it natively and, on a CPU,
    # a short timing (cached per machine) finds it faster; else fp32.
    precision: str = "fp32"  # auto | fp32 | bf16 | fp16
    max_tokens: int = 4000  # a batch holds at most this many (padded) tokens per side
    max_sentences: int = 128  # and at most this many sentences (paper: 128)
    max_time: Optional[float] = None  # seconds of training; stops cleanly with a checkpoint
    max_steps: Optional[int] = None  # optimiser steps, over all resumptions
    log_every: int = 50  # steps between log lines (and TensorBoard points)
    eval_every: Optional[int] = None  # steps; None evaluates at each epoch's end
    eval_max_sentences: Optional[int] = None  # decode only the first N dev sentences
    # Early stopping: stop after this many evaluations in a row that did not raise the
    # task's best dev metric (the one best.pt is kept on) by more than min_delta; None
    # trains to the budget. A resumed run keeps its count.
    patience: Optional[int] = None
    min_delta: float = 0.0  # in the metric's own units (BLEU points, CIDEr-D, accuracy)
    save_every: Optional[int] = None  # steps between last.pt saves (besides each evaluation)
    keep_checkpoints: int = 0  # also keep checkpoint_<step>.pt of the last N evaluations
    # A NaN or infinite loss or gradient: stop with an error (last.pt stays the last good
    # state), or skip that batch without updating (counted in the log).
    on_nonfinite: str = "error"  # error | skip
    tensorboard: bool = True  # scalars in <run_dir>/tensorboard/, if tensorboard is installed


@dataclass
class DecodeConfig:
    beam_size: int = 12  # paper section 3.4 (beam 2 gets most of the gain)
    batch_size: int = 64  # sentences decoded together
    max_len_a: float = 1.5  # hypotheses end at a * source_length + b
    max_len_b: int = 10  # (lengths in pieces: see max_len_a)
    # No hypothesis is longer, whatever its source's length: a line far longer than
    # training saw ends in seconds. None: twice data.max_len (the longest training sentence)
    max_len: Optional[int] = None
    length_penalty: float = 0.0  # 0: plain log-probability (the paper); 1: divide by length
    nbest: int = 1  # hypotheses returned per sentence, best first
    # bf16 autocast in the search: up to 2x faster on CPUs with AVX512-BF16 or AMX and on
    # recent GPUs; log-probabilities and scores stay fp32 (bench/results.md); auto: as
    # trainer.precision (native bf16 that a cached timing finds faster, else fp32; never
    # int8). int8 (CPUs): the decoder's products on int8 weights and activations, lossy
    # (seq2seq/models/int8.py; docs/benchmarks.md measures speed and BLEU).
    precision: str = "fp32"  # auto | fp32 | bf16 | int8


TRAIN_PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # seq2seq/training/hardware.py picks among them
DECODE_PRECISIONS = ("auto", "fp32", "bf16", "int8")


@dataclass
class TrainConfig:
    # What is learnt, and so the data node, the loss, the dev metrics and which of them picks
    # best.pt: translation (dev perplexity and BLEU; best on BLEU) | language_model (the
    # target side alone, with model/encoder=none; dev perplexity, best on it) |
    # classification (a label per text, with model/decoder=classifier; dev accuracy and
    # macro-F1, best on accuracy) | captioning (images or videos -> text, with
    # model/encoder=image or frames; dev BLEU-1..4 and CIDEr-D, best on CIDEr-D) | tagging (a
    # tag per word, with model/encoder=words, model/decoder=tags; dev token accuracy and
    # entity F1, best on F1 where there are entities) | the dotted path of a Task class
    # elsewhere. classify, caption and tag name the same tasks (their commands' verbs).
    task: str = "translation"
    # The task's own node (its `data_config`: DataConfig for translation and the language
    # model; labelled text's, captioned images': each task's `data_config`)
    data: Any = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)


class ConfigError(ValueError):
    """A config that cannot be composed; its message is one line naming the key."""
