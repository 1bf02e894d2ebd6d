"""seq2seq's side of the benchmark: one measurement per process (so peak RSS is its own).

    python ours_worker.py WORK.pt train --model same|paper [--precision bf16] [--sentences 64]
    python ours_worker.py WORK.pt decode --model same --beam 5 [--precision bf16]
    python ours_worker.py WORK.pt matmul [--precision bf16]

`same` is the same model shape and cost as Joey's recurrent model (bidirectional 2-layer
LSTM encoder, 2-layer LSTM decoder, Luong `general` attention with input feeding); `paper`
is the paper's model at the same sizes (no attention, one direction, the decoder one LSTM
call over the target). The training step is `seq2seq.training.optim.gradients` + SGD, the code of
`seq2seq-train`; decoding is `seq2seq.tasks.translation.translator.decode_ids`, the search of
`seq2seq-translate`. One JSON line out.
"""
import argparse
import json
import resource
import time

import torch

from seq2seq.config.compose import DecodeConfig, DecoderConfig, EncoderConfig, ModelConfig
from seq2seq.models.encoder_decoder import Seq2Seq, build_model
from seq2seq.tasks.translation.translator import decode_ids
from seq2seq.training.distributed import Ranks
from seq2seq.training.hardware import autocast
from seq2seq.training.optim import build_optimizer, gradients


def build(work: dict, kind: str) -> Seq2Seq:
    s = work["shape"]
    same = kind == "same"
    cfg = ModelConfig(emb_dim=s["emb"], hidden_dim=s["hidden"], layers=s["layers"],
                      dropout=s["dropout"], encoder=EncoderConfig(bidirectional=same),
                      decoder=DecoderConfig(attention="general" if same else "none",
                                            input_feeding=same))
    return build_model(cfg, work["src_vocab"], work["tgt_vocab"])


def step_flops(model: Seq2Seq, b) -> float:
    """Matmul FLOPs of one training step: forward and backward (twice the forward)."""
    return 3 * forward_flops(model, int(b.src.lens.sum()), b.n_tokens, b.src.values.size(1))


def forward_flops(model: Seq2Seq, src: int, tgt: int, S: int) -> float:
    """Matmul FLOPs (2 per multiply-add) of `src` source and `tgt` target positions, the
    longest source S: every LSTM layer, the output layer and, with attention, the bridge,
    the keys, the scores and context (S x H each per target position), the combination."""
    def weights(module) -> int:
        return sum(w.numel() for name, w in module.named_parameters()
                   if name.split(".")[-1].startswith("weight"))
    dec = model.decoder
    macs = (weights(model.encoder.rnn) * src + weights(dec.rnn) * tgt
            + dec.out.weight.numel() * tgt)
    if dec.attention is not None:
        H = dec.out.in_features
        bridge = 0 if model.encoder.bridge is None else model.encoder.bridge.weight.numel()
        keys = 0 if dec.attention.proj is None else dec.attention.proj.weight.numel()
        macs += ((bridge + keys) * src + dec.attention.combine.weight.numel() * tgt
                 + 2 * S * H * tgt)
    return 2 * macs


def train(work: dict, kind: str, precision: str, steps: int, warmup: int, sentences: int):
    # Here, not at the top: seq2seq.data.corpus loads `datasets` (~100 MB), which seq2seq-translate
    # never does, so a decoding process must not either.
    from seq2seq.data.corpus import collate
    from seq2seq.tasks import Objective, Translation
    model = build(work, kind)
    # the translation task's loss, as seq2seq-train wraps it (no tokenizer: only the loss runs)
    loss_fn, params = Objective(model, Translation(None, DecodeConfig())), list(model.parameters())
    opt = build_optimizer("sgd", params, 0.1)
    key = "train" if sentences == work["sentences"] else f"train_{sentences}"
    batches = [collate(s, t) for s, t in work[key][: warmup + steps]]
    tokens, flops, start = 0, 0.0, 0.0
    for i, b in enumerate(batches):
        if i == warmup:
            tokens, flops, start = 0, 0.0, time.perf_counter()
        gradients(loss_fn, b, params, Ranks(), loss_per="sentence", clip_norm=5.0,
                  autocast=autocast(torch.device("cpu"), precision))
        opt.step()
        tokens += b.n_tokens
        flops += step_flops(model, b)
    seconds = time.perf_counter() - start
    return {"tokens_per_s": tokens / seconds, "flops_per_s": flops / seconds}


def decode(work: dict, kind: str, beam: int, precision: str, attention: bool = False) -> dict:
    model = build(work, kind).eval()  # as seq2seq-translate builds it: outside inference mode
    cfg = DecodeConfig(beam_size=beam, max_len_a=1.5, max_len_b=0, length_penalty=0.0,
                       batch_size=64, precision=precision)
    device = torch.device("cpu")
    sentences, start, groups, work_done = 0, time.perf_counter(), [], []
    for src in work["test"]:  # groups of 64 sentences of similar length
        group_start = time.perf_counter()
        outs = [h[0].ids for h in decode_ids(model, src, cfg, device, attention=attention)]
        lens = [len(s) for s in src]
        sentences += len(src)
        work_done.append((sum(lens), [len(o) for o in outs], max(lens)))
        groups.append((round(sum(lens) / len(src), 1), max(lens),
                       round((time.perf_counter() - group_start) / len(src), 5), len(src)))
    seconds = time.perf_counter() - start
    out_len = sum(sum(outs) for _, outs, _ in work_done)
    # Greedy (one row a sentence): a step per output piece and one for eos; counted after
    # the clock stops.
    flops = sum(forward_flops(model, src, sum(outs) + len(outs), S)
                for src, outs, S in work_done)
    return {"sentences_per_s": sentences / seconds,
            "mean_output_pieces": out_len / sentences,
            **({"search_flops_per_s": flops / seconds} if beam == 1 else {}),
            # (mean source length, longest source, seconds per sentence, sentences)
            "groups": groups}


def matmul(precision: str, n: int = 2048, repeat: int = 10) -> dict:
    """Dense matmul FLOP/s on this process's threads: the machine's practical peak."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeat):
        a @ b
    return {"flops_per_s": 2 * n ** 3 * repeat / (time.perf_counter() - start)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("task", choices=["train", "decode", "matmul"])
    p.add_argument("--model", choices=["same", "paper"], default="same")
    p.add_argument("--precision", choices=["fp32", "bf16", "int8"], default="fp32")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--sentences", type=int, default=0, help="batch size; default WORK's")
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--attention", action="store_true",
                   help="decode: keep each hypothesis's attention (as --alignment does)")
    args = p.parse_args()
    torch.manual_seed(1)
    if args.task == "matmul":
        result = matmul(args.precision)
    else:
        work = torch.load(args.work, weights_only=False)
        result = (train(work, args.model, args.precision, args.steps, args.warmup,
                        args.sentences or work["sentences"]) if args.task == "train"
                  else decode(work, args.model, args.beam, args.precision, args.attention))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
