"""charrnn's language model in PyTorch: what `charrnn export CKPT OUT.pt` writes, loaded and run.

    import torch
    from charrnn.torch_model import CharRNN
    model, vocab = CharRNN.load("model.pt")          # vocab: the characters, id = position
    logits, state = model(torch.tensor([[vocab.index(c) for c in "def "]]))   # (B, T) ids -> (B, T, V)

The same function as charrnn's NumPy model (tasks/lm.py): one-hot characters -> `layers` cells ->
[dropout mask] -> logits = h Wy + by. LSTM and tanh-RNN layers are torch's nn.LSTM / nn.RNN (each
holding one layer; their second bias vector, bias_hh, is zero and never trained: charrnn has one
bias per gate). The GRU is written here in torch ops, because charrnn's GRU applies the reset gate
before the recurrent product (Cho et al. 2014: g = tanh(Wx_g x + Wh_g (r * h) + b_g)) while
nn.GRU applies it after; its parameters keep charrnn's layout (Wx (D, 3H), Wh (H, 3H), b (3H,),
blocks r, z, g). The file holds {"config": {cell, vocab_size, hidden, layers}, "vocab": [...],
"state_dict": ...}; only torch is needed to read it (torch.load with weights_only=True).
"""

import torch
from torch import nn


class GRU(nn.Module):
    """One charrnn GRU layer: r, z = sigmoid(.); g = tanh(x Wx_g + (r * h) Wh_g + b_g); h = h + z (g - h)."""

    def __init__(self, D: int, H: int):
        super().__init__()
        self.Wx, self.Wh, self.b = (nn.Parameter(torch.zeros(s)) for s in ((D, 3 * H), (H, 3 * H), (3 * H,)))

    def forward(self, x, h):  # x (T, B, D), h (1, B, H) -> (T, B, H), (1, B, H)
        H, h, out = self.Wh.shape[0], h[0], []
        a_rz, a_g = (x @ self.Wx + self.b).split([2 * H, H], dim=-1)  # split once: cheap slices to backprop
        Wh_rz, Wh_g = self.Wh.split([2 * H, H], dim=-1)
        for a_rz_t, a_g_t in zip(a_rz.unbind(0), a_g.unbind(0)):
            r, z = torch.sigmoid(a_rz_t + h @ Wh_rz).chunk(2, dim=-1)
            h = h + z * (torch.tanh(a_g_t + (r * h) @ Wh_g) - h)
            out.append(h)
        return torch.stack(out), h[None]


class CharRNN(nn.Module):
    def __init__(self, cell: str, vocab_size: int, hidden: int, layers: int):
        super().__init__()
        self.cell, self.V, self.H = cell, vocab_size, hidden
        make = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": GRU}[cell]
        self.layers = nn.ModuleList(make(vocab_size if k == 0 else hidden, hidden) for k in range(layers))
        for layer in self.layers:
            for name, p in layer.named_parameters():
                if name.startswith("bias_hh"):
                    p.requires_grad_(False)  # kept at zero: one bias per gate, as charrnn
        self.out = nn.Linear(hidden, vocab_size)

    def forward(self, ids, state=None, masks=None):
        """ids (B, T) -> logits (B, T, V), state: per layer (h,) or (h, c), each (B, H) (None: zeros).
        masks: per layer a (T, B, H) dropout mask multiplied into its output (training), or None."""
        B, x, out = ids.shape[0], nn.functional.one_hot(ids.T, self.V).to(self.out.weight.dtype), []
        for k, layer in enumerate(self.layers):
            s = tuple(a[None] for a in state[k]) if state is not None else \
                tuple(x.new_zeros(1, B, self.H) for _ in range(2 if self.cell == "lstm" else 1))
            x, s = layer(x, s if self.cell == "lstm" else s[0])
            out.append(tuple(a[0] for a in (s if self.cell == "lstm" else (s,))))
            x = x if masks is None else x * masks[k]
        return self.out(x).transpose(0, 1), out

    @classmethod
    def load(cls, path, device="cpu"):
        """(model in eval mode, vocab: the list of characters) from a file of `charrnn export`."""
        saved = torch.load(path, map_location=device, weights_only=True)
        model = cls(**saved["config"]).to(saved["state_dict"]["out.weight"].dtype)
        model.load_state_dict(saved["state_dict"])
        return model.to(device).eval(), saved["vocab"]
