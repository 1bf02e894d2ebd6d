"""A linear-chain conditional random field over per-token tag scores (Lafferty et al. 2001;
on a BiLSTM: Huang, Xu and Yu 2015, Lample et al. 2016).

    score(y | x) = start[y_1] + sum_t emit[t, y_t] + sum_t trans[y_{t-1}, y_t] + end[y_n]
    p(y | x) = exp(score(y | x)) / Z(x),   Z summed over every tag sequence (forward algorithm)

Training minimises -log p(gold | x); decoding is Viterbi (the best sequence), and
`marginals` (forward-backward) gives each token's tag probabilities. What it adds over a
softmax per token: tags that may not follow one another (I-PER after B-LOC) learn a low
transition score. Rows of a batch have their own lengths; positions past a row's length are
ignored. Written from the definitions; tests compare every function with brute force over
all tag sequences of small cases.
"""
from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, tags: int):
        super().__init__()
        self.trans = nn.Parameter(torch.zeros(tags, tags))  # (from, to)
        self.start = nn.Parameter(torch.zeros(tags))
        self.end = nn.Parameter(torch.zeros(tags))

    def _check(self, emissions: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        if bool((lens < 1).any()):
            raise ValueError("CRF: every row needs at least one token")
        # (B, S): real positions
        return torch.arange(emissions.size(1), device=lens.device) < lens.unsqueeze(1)

    def gold_score(self, emissions: torch.Tensor, tags: torch.Tensor,
                   lens: torch.Tensor) -> torch.Tensor:
        """(B,) score of each row's `tags` (B, S); tags past a row's length are ignored."""
        mask = self._check(emissions, lens)
        tags = tags.masked_fill(~mask, 0)
        emit = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, S)
        steps = self.trans[tags[:, :-1], tags[:, 1:]] * mask[:, 1:]  # (B, S - 1)
        last = tags.gather(1, (lens - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return (self.start[tags[:, 0]] + (emit * mask).sum(1) + steps.sum(1)
                + self.end[last])

    def forward_scores(self, emissions: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """(B, S, T) alpha: log-sum of every prefix ending in each tag (frozen past a row's
        length, so alpha[:, -1] is each row's last real one)."""
        mask = self._check(emissions, lens)
        alpha = self.start + emissions[:, 0]  # (B, T)
        out = [alpha]
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t: t + 1], step, alpha)
            out.append(alpha)
        return torch.stack(out, 1)

    def log_partition(self, emissions: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """(B,) log Z(x)."""
        alpha = self.forward_scores(emissions, lens)[:, -1]
        return torch.logsumexp(alpha + self.end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor,
            lens: torch.Tensor) -> torch.Tensor:
        """Summed -log p(tags | x) over the batch's rows."""
        emissions = emissions.float()
        return (self.log_partition(emissions, lens)
                - self.gold_score(emissions, tags, lens)).sum()

    def marginals(self, emissions: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """(B, S, T) p(y_t = tag | x) (forward-backward); zero past a row's length."""
        emissions = emissions.float()
        mask = self._check(emissions, lens)
        alpha = self.forward_scores(emissions, lens)
        beta = torch.zeros_like(alpha)  # (B, S, T): log-sum of every suffix after t
        B, S, _ = emissions.shape
        rows = torch.arange(B, device=lens.device)
        nxt = self.end.expand(B, -1).clone()  # beta at each row's last position
        beta[rows, lens - 1] = nxt
        for t in range(S - 2, -1, -1):
            step = torch.logsumexp(self.trans + (emissions[:, t + 1] + beta[:, t + 1])
                                   .unsqueeze(1), dim=2)  # (B, T)
            inside = mask[:, t + 1: t + 2]
            beta[:, t] = torch.where(inside, step, beta[:, t])
        log_z = torch.logsumexp(alpha[rows, lens - 1] + self.end, dim=1)  # (B,)
        probs = torch.exp(alpha + beta - log_z[:, None, None])
        return probs * mask.unsqueeze(2)

    def viterbi(self, emissions: torch.Tensor, lens: torch.Tensor) -> list[list[int]]:
        """The best tag sequence of each row, as long as the row."""
        emissions = emissions.float()
        mask = self._check(emissions, lens)
        score = self.start + emissions[:, 0]  # (B, T)
        back = []
        for t in range(1, emissions.size(1)):
            best, arg = (score.unsqueeze(2) + self.trans).max(dim=1)  # (B, T)
            inside = mask[:, t: t + 1]
            score = torch.where(inside, best + emissions[:, t], score)
            back.append(arg)
        last = (score + self.end).argmax(1).tolist()
        pointers = [b.tolist() for b in back]
        out = []
        for row, (tag, n) in enumerate(zip(last, lens.tolist())):
            path = [tag]
            for t in range(n - 1, 0, -1):
                tag = pointers[t - 1][row][tag]
                path.append(tag)
            out.append(path[::-1])
        return out
