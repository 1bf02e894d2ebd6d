"""Joey NMT 2.3.0's side of the benchmark; runs in Joey's own virtual environment.

    python joey_worker.py WORK.pt train --steps 30 --warmup 5
    python joey_worker.py WORK.pt decode --beam 5

WORK.pt (written by run.py) holds the batches as our sentencepiece ids; Joey's vocabulary
is the same pieces with its own special ids (unk 0, pad 1; ours are pad 0, unk 1), so the
ids are only relabelled. The model is Joey's recurrent model: a 2-layer bidirectional LSTM
encoder, a 2-layer LSTM decoder with Luong attention and input feeding (its
`configs/rnn_reverse.yaml` family), at the sizes in WORK.pt. The training step is
`TrainManager._train_step` (forward, loss normalised by sentences, backward) followed by
gradient clipping and an SGD step; decoding is `joeynmt.search.search`. One JSON line out.
"""
import argparse
import json
import resource
import time
from types import SimpleNamespace

import torch

from joeynmt.batch import Batch
from joeynmt.model import build_model
from joeynmt.search import search
from joeynmt.vocabulary import Vocabulary

UNK, PAD, BOS, EOS = 0, 1, 2, 3
SWAP = {0: PAD, 1: UNK}  # our pad 0 / unk 1 -> Joey's


def vocabulary(size: int) -> Vocabulary:
    specials = SimpleNamespace(unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
                               eos_token="</s>", unk_id=UNK, pad_id=PAD, bos_id=BOS,
                               eos_id=EOS, sep_token=None, lang_tags=[])
    return Vocabulary([f"piece{i}" for i in range(4, size)], specials)


def model_config(shape: dict) -> dict:
    rnn = {"rnn_type": "lstm", "hidden_size": shape["hidden"], "num_layers": shape["layers"],
           "dropout": shape["dropout"],
           "embeddings": {"embedding_dim": shape["emb"], "dropout": shape["dropout"]}}
    return {"initializer": "uniform", "init_weight": 0.08, "embed_initializer": "uniform",
            "embed_init_weight": 0.08, "bias_initializer": "uniform",
            "encoder": {**rnn, "type": "recurrent", "bidirectional": True},
            "decoder": {**rnn, "type": "recurrent", "attention": "luong",
                        "input_feeding": True, "init_hidden": "bridge",
                        "hidden_dropout": shape["dropout"]}}


def joey_batch(src: list, tgt: list | None) -> Batch:
    """Our ids -> Joey's: source as is (it ends with eos), target framed by bos/eos."""
    def ids(seq):
        return [SWAP.get(i, i) for i in seq]
    width = max(map(len, src))
    s = torch.full((len(src), width), PAD)
    for row, seq in enumerate(src):
        s[row, :len(seq)] = torch.tensor(ids(seq))
    t = None
    if tgt is not None:
        t = torch.full((len(tgt), max(map(len, tgt)) + 2), PAD)
        for row, seq in enumerate(tgt):
            t[row, :len(seq) + 2] = torch.tensor([BOS, *ids(seq), EOS])
    return Batch(s, torch.tensor([len(x) for x in src]), None, t, None,
                 torch.arange(len(src)), torch.device("cpu"), PAD, EOS, is_train=tgt is not None)


def train(work: dict, steps: int, warmup: int) -> dict:
    model = build_model(model_config(work["shape"]), vocabulary(work["src_vocab"]),
                        vocabulary(work["tgt_vocab"]))
    model.loss_function = ("crossentropy", 0.0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [joey_batch(s, t) for s, t in work["train"][: warmup + steps]]
    tokens, start = 0, 0.0
    for i, batch in enumerate(batches):
        if i == warmup:
            tokens, start = 0, time.perf_counter()
        model.train()
        batch.sort_by_src_length()
        loss = model(return_type="loss", **vars(batch))[0]
        batch.normalize(loss, normalization="batch").backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        opt.zero_grad()
        tokens += batch.ntokens
    return {"tokens_per_s": tokens / (time.perf_counter() - start)}


def decode(work: dict, beam: int) -> dict:
    model = build_model(model_config(work["shape"]), vocabulary(work["src_vocab"]),
                        vocabulary(work["tgt_vocab"]))
    model.eval()
    sentences, out_len, start = 0, 0, time.perf_counter()
    for src in work["test"]:
        batch = joey_batch(src, None)
        batch.sort_by_src_length()
        with torch.no_grad():
            hyps, _, _ = search(model, batch, max_output_length=-1, beam_size=beam,
                                beam_alpha=-1, n_best=1)
        sentences += len(src)
        out_len += sum(int((h != PAD).sum()) for h in hyps)
    return {"sentences_per_s": sentences / (time.perf_counter() - start),
            "mean_output_pieces": out_len / sentences}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("task", choices=["train", "decode"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--beam", type=int, default=5)
    args = p.parse_args()
    torch.manual_seed(1)
    work = torch.load(args.work, weights_only=False)
    result = (train(work, args.steps, args.warmup) if args.task == "train"
              else decode(work, args.beam))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
