"""`metrics.csv`: the per-epoch records of a run as a spreadsheet-ready table.

`metrics.jsonl` stays the lossless record; the CSV is for tools that want a
table. Its header is the union of the records' keys in first-seen order, so a
key that appears late (e.g. a metric logged only from some epoch on) still
gets a column. Rows are appended as they come; only a new key rewrites the
file, with the old rows' missing cells left empty.
"""

import csv
import io
from pathlib import Path


class CsvLog:
    """Append per-epoch records to a CSV file whose header grows with the keys.

    Args:
      path: The CSV file. Truncated on creation unless `keep` is True.
      keep: Continue an existing file (e.g. a resumed run): its header and
        rows are read back and new rows appended.

    Example:
      >>> import tempfile, pathlib
      >>> path = pathlib.Path(tempfile.mkdtemp()) / "metrics.csv"
      >>> log = CsvLog(path)
      >>> log.append({"epoch": 1, "train_loss": 0.5})
      >>> log.append({"epoch": 2, "train_loss": 0.25, "lr": 0.1})
      >>> print(path.read_text(), end="")
      epoch,train_loss,lr
      1,0.5,
      2,0.25,0.1
    """

    def __init__(self, path: str | Path, *, keep: bool = False):
        self.path = Path(path)
        self.rows: list[dict] = []
        self.keys: list[str] = []
        if keep and self.path.exists():
            with self.path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.keys = list(reader.fieldnames or [])
                self.rows = list(reader)
        else:
            self.path.write_text("")

    def append(self, record: dict) -> None:
        """Add one record; rewrite the file only if it brings a new key."""
        self.rows.append(dict(record))
        new = [k for k in record if k not in self.keys]
        if new or not self.keys:
            self.keys += new
            self.path.write_text(_table(self.keys, self.rows))
        else:
            with self.path.open("a", newline="") as f:
                f.write(_table(self.keys, [record], header=False))


def _table(keys: list[str], rows: list[dict], *, header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, keys, restval="", lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
