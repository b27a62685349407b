"""Per-character tagging (many-to-many, aligned) as a task of the engine: `charrnn train FILE --task tag`.

    text<TAB>tags lines (one tag character per text character) -> the layer stack reads each
    line (and with --bidirectional a second stack reads it right to left, so that each step sees
    the whole line) -> every step's top output (both stacks' concatenated) -> softmax over the tags

The maths: nn/heads.py ("steps") over nn/bidirectional.py; the run, batches and checkpoint:
tasks/labelled_task.py. The loss is the mean over the real characters (padding weighs 0).
Validation reports per-character accuracy, macro-F1 over the tags, the share of lines whose
every tag is right (val_exact_lines) and the loss in nats per character.
"""

from __future__ import annotations

from charrnn.tasks.labelled_task import LabelledTask


class TagTask(LabelledTask):
    name = "tag"
    kind = "tagger"

    def extra_metrics(self, rep: dict) -> dict:
        return {"val_exact_lines": rep["exact_match"]}
