"""The tasks: what a model computes from a batch, its loss and metrics, and its part of the
checkpoint. Each task is one plug-in class (the contract: charrnn/engine/task.py), registered
here by name; the engine (charrnn/engine/loop.py) runs any of them.

    lm        language model: next character at every step (lm.py the model, lm_task.py the plug-in)
    seq2seq   encoder-decoder on pairs (seq2seq.py the model, seq2seq_task.py the plug-in)
    classify  one label per line (classify.py; shared with tag: labelled_task.py, nn/heads.py)
    tag       one tag per character (tag.py)
"""

from importlib import import_module

# name -> "module:class" (imported when used: the model modules stay importable on their own)
REGISTRY = {
    "lm": "charrnn.tasks.lm_task:LMTask",
    "seq2seq": "charrnn.tasks.seq2seq_task:Seq2SeqTask",
    "classify": "charrnn.tasks.classify:ClassifyTask",
    "tag": "charrnn.tasks.tag:TagTask",
}


class _Tasks(dict):
    def __getitem__(self, name):
        module, cls = REGISTRY[name].split(":")
        return getattr(import_module(module), cls)

    def __contains__(self, name):
        return name in REGISTRY

    def __iter__(self):
        return iter(REGISTRY)


TASKS = _Tasks()
