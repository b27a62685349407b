"""Many-to-one classification as a task of the engine: `charrnn train FILE --task classify`.

    text<TAB>label lines -> the layer stack reads each line (and with --bidirectional a second
    stack reads it right to left) -> the mean of the top outputs over the line (--pool mean), or
    the last one, the final state (--pool last) -> softmax over the labels

The maths: nn/heads.py (the head and the loss) over nn/bidirectional.py (the reader, exact under
padding); the run, batches and checkpoint: tasks/labelled_task.py. Validation reports accuracy,
macro-F1 and the loss in nats per line; best.npz holds the highest validation accuracy.

Which pooling by default: on the bundled demo (data/packages.tsv, a stdlib source line -> its
package; 1 x 128 GRU, equal time) the mean over the line scored higher than the final state, see
the README's classify section.
"""

from __future__ import annotations

from charrnn.tasks.labelled_task import LabelledTask


class ClassifyTask(LabelledTask):
    name = "classify"
    kind = "classifier"
