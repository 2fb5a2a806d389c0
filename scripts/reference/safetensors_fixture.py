"""Writes Tests/SafeTensorsTests/Fixtures/python-written.safetensors with the Python `safetensors`
package, so the Swift reader is checked against the reference writer (F32, F16, BF16, I64).

    python3 scripts/reference/safetensors_fixture.py
"""
import pathlib
import torch
from safetensors.torch import save_file

out = pathlib.Path(__file__).resolve().parents[2] / "Tests/SafeTensorsTests/Fixtures/python-written.safetensors"
save_file(
    {
        "model.norm.weight": torch.tensor([1.0, -2.5, 3.140625], dtype=torch.float32),
        "half": torch.tensor([[1.0, 2.0], [-0.5, 65504.0]], dtype=torch.float16),
        "brain": torch.tensor([1.0, 3.140625, -7.0], dtype=torch.bfloat16),
        "step": torch.tensor([7], dtype=torch.int64),
    },
    str(out),
    metadata={"format": "pt"},
)
print(out)
