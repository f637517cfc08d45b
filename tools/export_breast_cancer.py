"""Export scikit-learn's copy of the Wisconsin diagnostic breast-cancer data
set (WDBC) as data/breast_cancer.csv.

Columns: the 30 feature names exactly as scikit-learn spells them, then
`diagnosis` with the values `malignant` / `benign`. scikit-learn codes the
target as 0 = malignant, 1 = benign; the CSV spells the class out so that no
reader has to know that convention. Values are written with Python's shortest
round-trip float repr, so they equal the source file's digits. Rows keep
scikit-learn's order.

    python3 -m pip install scikit-learn
    python3 tools/export_breast_cancer.py [--out data/breast_cancer.csv]
"""

import argparse
import csv
import sys
from pathlib import Path

EXPECTED_SHAPE = (569, 30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(__file__).resolve().parent.parent / "data" / "breast_cancer.csv"
    parser.add_argument("--out", type=Path, default=default_out, help="CSV to write")
    args = parser.parse_args()

    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        sys.exit("export_breast_cancer.py: scikit-learn is missing; run `python3 -m pip install scikit-learn`")

    bunch = load_breast_cancer()
    if bunch.data.shape != EXPECTED_SHAPE or list(bunch.target_names) != ["malignant", "benign"]:
        sys.exit(
            f"export_breast_cancer.py: unexpected data set: shape {bunch.data.shape}, "
            f"classes {list(bunch.target_names)}"
        )

    header = [str(name) for name in bunch.feature_names] + ["diagnosis"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for features, target in zip(bunch.data, bunch.target):
            writer.writerow([repr(float(v)) for v in features] + [str(bunch.target_names[target])])
    print(f"export_breast_cancer.py: wrote {len(bunch.target)} rows to {args.out}")


if __name__ == "__main__":
    main()
