"""Print decisions (ValueChunks of class scores) as they arrive and summarise them."""

from __future__ import annotations

import sys
from collections import deque
from typing import Any

import numpy as np

from pipeline.chunks import Chunk, ValueChunk
from pipeline.registry import register_stage
from pipeline.stage import ContractExample, Sink


@register_stage("print_decisions")
class PrintDecisions(Sink):
    """Print each value row as `t=... decision=NAME (confidence)`; keep the last `keep` rows.

    Parameters: quiet (collect without printing); keep (rows kept for the result).
    """

    accepts = ("values",)

    def __init__(self, quiet: bool = False, keep: int = 1000) -> None:
        self.quiet = quiet
        self.keep = keep

    def reset(self) -> None:
        self._rows: deque[dict[str, Any]] = deque(maxlen=self.keep)
        self._count = 0
        self._correct = 0
        self._labelled = 0

    def process(self, chunk: Chunk) -> list[Chunk]:
        self.check_input(chunk)
        if not hasattr(self, "_rows"):
            self.reset()
        assert isinstance(chunk, ValueChunk)
        names = chunk.names or tuple(str(i) for i in range(chunk.values.shape[1]))
        label = chunk.meta.get("label")
        # A readout's rows are [p_<class>..., decision, confidence(, label)]; other value
        # streams are plain scores whose argmax is the decision.
        classes = [n[2:] for n in names if n.startswith("p_")]
        has_decision = "decision" in names and "confidence" in names
        for t, row in zip(chunk.times.tolist(), chunk.values):
            if has_decision:
                best = int(row[names.index("decision")])
                confidence = float(row[names.index("confidence")])
                decision = (classes[best] if 0 <= best < len(classes) else str(best)) if best >= 0 else None
            else:
                best = int(np.argmax(row)) if row.size else -1
                total = float(np.sum(np.clip(row, 0, None)))
                confidence = float(row[best]) / total if total > 0 and best >= 0 else 0.0
                decision = names[best] if best >= 0 else None
            record = {"t_us": t, "decision": decision, "confidence": round(confidence, 4),
                      "sample_id": chunk.meta.get("sample_id"), "label": label}
            self._rows.append(record)
            self._count += 1
            if isinstance(label, int) and label >= 0 and decision is not None:
                self._labelled += 1
                self._correct += int(best == label)
            if not self.quiet and decision is not None:
                print(f"t={t / 1e6:9.3f} s  decision={record['decision']}  confidence={confidence:.2f}"
                      + (f"  sample={record['sample_id']}" if record["sample_id"] else ""), file=sys.stdout)
        return []

    def result(self) -> dict[str, Any]:
        if not hasattr(self, "_rows"):
            self.reset()
        out: dict[str, Any] = {"decisions": self._count, "last": list(self._rows)[-20:]}
        summary = f"{self._count} decisions"
        if self._labelled:
            out["accuracy"] = self._correct / self._labelled
            summary += f", accuracy {out['accuracy']:.3f} on {self._labelled} labelled"
        out["summary"] = summary
        return out

    @classmethod
    def contract_example(cls) -> ContractExample:
        values = np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]], dtype=np.float32)
        chunk = ValueChunk(t_start=0, t_end=3000, values=values, times=np.array([10, 1500, 2999]), names=("yes", "no"))
        return ContractExample({"quiet": True}, [chunk])
