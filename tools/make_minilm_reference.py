"""Reference embeddings of all-MiniLM-L6-v2 for tests/model_minilm.rs.

Runs the Hugging Face implementation (sentence-transformers on top of
transformers' BertModel, PyTorch on the CPU, float32) on the model folder that
tools/fetch_model.sh extracts, and writes tests/fixtures/minilm_reference.json:

- `sentences`: the inputs, among them the clinical notes hetl renders for rows
  0 (malignant) and 19 (benign) of data/breast_cancer.csv. `clinical_note`
  below mirrors `hetl::model::dataset::Dataset::clinical_note`; the Rust test
  checks that both still render the same text.
- `token_ids`: per sentence, the ids sentence-transformers feeds the encoder
  (with [CLS]/[SEP], truncated to max_seq_length 256, no padding).
- `embeddings`: per sentence, the 384-d sentence embedding (mean pooling over
  the attention mask, then L2 normalisation), encoded as one batch so that the
  shorter sentences are padded and the attention mask matters.
- `layer_means`: for sentence 0 alone, the hidden state after the embeddings
  and after each of the 6 encoder layers, mean-pooled over the tokens (not
  normalised), so a layer can be checked on its own.

Setup (a venv outside the repository; torch's PyPI wheel is large):

    python3 -m venv /tmp/hetl-ref-venv
    /tmp/hetl-ref-venv/bin/pip install torch transformers sentence-transformers
    bash tools/fetch_model.sh
    /tmp/hetl-ref-venv/bin/python tools/make_minilm_reference.py
"""

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTE_ROWS = (0, 19)
FREE_TEXT = [
    "The patient reported mild chest pain after exercise.",
    "Homomorphic encryption lets a server compute on data it cannot read.",
    "Café owners in Zürich DON'T like rainy Mondays!",
    "Benign.",
]


def number(value):
    """Shortest round-trip text of a float, without a trailing `.0` (as Rust's `{}`)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def clinical_note(names, values):
    """The note hetl renders: mean features, then worst features; standard errors left out."""
    def sentence(prefix):
        parts = [f"{name} {number(v)}" for name, v in zip(names, values) if name.startswith(prefix)]
        text = ", ".join(parts)
        return text[0].upper() + text[1:] + "."

    return f"Fine needle aspirate of a breast mass. {sentence('mean ')} {sentence('worst ')}"


def read_notes(csv_path):
    with csv_path.open(newline="") as f:
        rows = list(csv.reader(f))
    names = rows[0][:-1]
    return [clinical_note(names, rows[1 + r][:-1]) for r in NOTE_ROWS]


def sha256(path):
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def floats(tensor):
    """A float32 vector as Python floats, 9 significant digits (round-trips float32)."""
    return [float(f"{x:.9g}") for x in tensor.tolist()]


def to_json(fixture):
    """JSON with one field, sentence or vector per line: readable diffs, compact file."""
    fields = []
    for key, value in fixture.items():
        if isinstance(value, list):
            items = ",\n  ".join(json.dumps(v, ensure_ascii=False) for v in value)
            fields.append(f' "{key}": [\n  {items}\n ]')
        else:
            fields.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "breast_cancer.csv")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "minilm_reference.json")
    args = parser.parse_args()

    if not (args.model / "model.safetensors").is_file():
        sys.exit(f"make_minilm_reference.py: no model in {args.model}; run `bash tools/fetch_model.sh` first")
    try:
        import sentence_transformers
        import torch
        import transformers
    except ImportError as err:
        sys.exit(f"make_minilm_reference.py: {err}; install torch transformers sentence-transformers (see the header)")

    torch.set_num_threads(1)
    model = sentence_transformers.SentenceTransformer(str(args.model), device="cpu")
    model.eval()
    sentences = FREE_TEXT[:2] + read_notes(args.data) + FREE_TEXT[2:]

    token_ids = [model.preprocess([s])["input_ids"][0].tolist() for s in sentences]
    embeddings = model.encode(sentences, batch_size=len(sentences), convert_to_tensor=True)

    features = model.preprocess(sentences[:1])
    inputs = {k: features[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
    with torch.no_grad():
        out = model[0].auto_model(**inputs, output_hidden_states=True)
    layer_means = [floats(h[0].mean(dim=0)) for h in out.hidden_states]

    fixture = {
        "generator": "tools/make_minilm_reference.py",
        "model_sha256": sha256(args.model / "model.safetensors"),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
        },
        "sentences": sentences,
        "token_ids": token_ids,
        "embeddings": [floats(e) for e in embeddings],
        "layer_means": layer_means,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_json(fixture))
    print(f"make_minilm_reference.py: wrote {len(sentences)} sentences to {args.out}")


if __name__ == "__main__":
    main()
