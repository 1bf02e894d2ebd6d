"""Sentencepiece models: train, load, encode, decode.

Special ids are defined here once and every sentencepiece model is trained with them, so the
model, the batches and the search all agree on what 0..3 mean.

The source sentence is reversed in exactly one place, `encode_source`, which training,
evaluation and translation all call (Sutskever et al. 2014, section 3.3: reversing the
source puts the first source words next to the first target words, which makes the
optimisation problem easier).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import sentencepiece as spm
from google.protobuf.message import DecodeError
from sentencepiece import sentencepiece_model_pb2

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def train_spm(sentences: Iterable[str], out_prefix: Path, *, vocab_size: int,
              model_type: str, character_coverage: float = 1.0,
              input_sentence_size: int = 1_000_000, seed: int = 1) -> Path:
    """Train a sentencepiece model on `sentences`; writes `<out_prefix>.model`."""
    model = io.BytesIO()
    spm.set_random_generator_seed(seed)  # sampling of input sentences is then repeatable
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(s for s in sentences if s.strip()),
        model_writer=model,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=character_coverage,
        input_sentence_size=input_sentence_size,
        shuffle_input_sentence=True,
        pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
        # The paper's word vocabularies: every other word is <unk>; with `word`, a
        # vocabulary smaller than the word count is expected, not an error.
        hard_vocab_limit=model_type != "word",
        minloglevel=2,
        num_threads=2,
    )
    path = out_prefix.with_suffix(".model")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())
    return path


def load_spm(path: Path) -> spm.SentencePieceProcessor:
    """A model seq2seq trained; anything else stops with one line naming the file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: sentencepiece model not found")
    try:
        # read here, so that a file we cannot read is not reported as a corrupt model
        proto = Path(path).read_bytes()
    except OSError as exc:
        raise OSError(f"{path}: cannot read the sentencepiece model ({exc.strerror})") from None
    sp = _parsed(proto)
    if sp is None:
        raise ValueError(f"{path}: not a sentencepiece model (truncated or corrupt)")
    ids = (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id())
    if ids != (PAD, UNK, BOS, EOS):
        # batches and search take 0..3 to mean these: another model's ids would mix them up
        raise ValueError(f"{path}: special ids pad/unk/bos/eos are {ids}, seq2seq trains its "
                         f"models with {(PAD, UNK, BOS, EOS)}: not a model seq2seq-prepare made")
    return sp


def _parsed(proto: bytes) -> spm.SentencePieceProcessor | None:
    """The model in `proto`, None if it is not a whole one.

    Sentencepiece's own errors name neither file nor cause ("INTERNAL: could not parse
    ModelProto"), and some broken files it loads without complaint: empty bytes as no model
    (every id -1), a file cut short between two pieces as a smaller model. Both lack the
    trainer and normalizer specs, which every trained model carries after its pieces.
    """
    model = sentencepiece_model_pb2.ModelProto()
    try:
        model.ParseFromString(proto)
    except DecodeError:
        return None
    if not (model.HasField("trainer_spec") and model.HasField("normalizer_spec")):
        return None
    try:
        return spm.SentencePieceProcessor(model_proto=proto)
    except RuntimeError:
        return None


def is_word_model(sp: spm.SentencePieceProcessor) -> bool:
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(sp.serialized_model_proto())
    return proto.trainer_spec.model_type == sentencepiece_model_pb2.TrainerSpec.WORD


def encode_texts(sp: spm.SentencePieceProcessor, texts: list[str], *,
                 by_word: bool) -> list[list[int]]:
    """Ids of each text: whole sentences, or (word vocabularies) word by word.

    Subword pieces never cross a space and the space piece is always in the vocabulary, so
    for unigram, bpe and char models a run of unknown characters never spans two words and
    both ways give the same ids; whole sentences are 4x faster. A word model is encoded
    word by word because sentencepiece merges a run of unknown *words* into one <unk>,
    where the paper's word vocabularies have one <unk> per out-of-vocabulary word.
    """
    if not by_word:
        return sp.encode(texts)
    return encode_words(sp, texts)


def encode_words(sp: spm.SentencePieceProcessor, texts: list[str]) -> list[list[int]]:
    """Ids of each text, encoded word by word (see encode_texts)."""
    words = [t.split() for t in texts]
    flat = sp.encode([w for ws in words for w in ws])
    out, i = [], 0
    for ws in words:
        out.append([x for ids in flat[i: i + len(ws)] for x in ids])
        i += len(ws)
    return out


def source_pieces(length):
    """Pieces of a source sentence whose encoded ids are `length` long (an int or an
    array): `Tokenizer.encode_source` ends every source with eos, which is not one."""
    return length - 1


class Tokenizer:
    """The source and target sentencepiece models of one run (the same model if joint)."""

    def __init__(self, src: spm.SentencePieceProcessor, tgt: spm.SentencePieceProcessor,
                 *, reverse_source: bool = True):
        self.src, self.tgt = src, tgt
        self.reverse_source = reverse_source
        self._by_word = {"src": is_word_model(src), "tgt": is_word_model(tgt)}

    @classmethod
    def load(cls, directory: Path, *, reverse_source: bool = True) -> "Tokenizer":
        directory = Path(directory)
        return cls(load_spm(directory / "src.model"), load_spm(directory / "tgt.model"),
                   reverse_source=reverse_source)

    @property
    def src_vocab_size(self) -> int:
        return self.src.get_piece_size()

    @property
    def tgt_vocab_size(self) -> int:
        return self.tgt.get_piece_size()

    def encode_source(self, texts: list[str]) -> list[list[int]]:
        """Source ids as the encoder reads them: reversed (if configured), then eos.

        This is the only place the source is reversed, and where the eos is added
        (`source_pieces` takes it off a length).
        """
        pieces = encode_texts(self.src, texts, by_word=self._by_word["src"])
        if self.reverse_source:
            return [ids[::-1] + [EOS] for ids in pieces]
        return [ids + [EOS] for ids in pieces]

    def encode_target(self, texts: list[str]) -> list[list[int]]:
        """Target ids without bos/eos; the batcher adds them (decoder input / output)."""
        return encode_texts(self.tgt, texts, by_word=self._by_word["tgt"])

    def decode_target(self, ids: list[list[int]]) -> list[str]:
        """Detokenised text, stopping at eos if the hypothesis carries one."""
        cut = [seq[: seq.index(EOS)] if EOS in seq else seq for seq in ids]
        return self.tgt.decode(cut)
