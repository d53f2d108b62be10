"""The bad inputs we try on `python -m pruning run` (tests/test_cli.py and the README's table
both read this list): each must exit 2 with a message naming the field and what it accepts,
before a run folder exists."""

import contextlib
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

SMOKE = Path(__file__).resolve().parent.parent / "configs" / "smoke.toml"


@dataclass(frozen=True)
class BadInput:
    what: str
    args: tuple[str, ...] = ()
    table: bytes | None = None
    """a CSV file's bytes, given to the run as data.name = "csv:FILE" """


BAD_INPUTS = (
    BadInput("an unknown method", ("--method", "snap")),
    BadInput("a sparsity above 1", ("--sparsity", "1.2")),
    BadInput("an unknown data set", ("--set", 'data.name="imdb"')),
    BadInput("an image model on text", ("--set", 'model.name="tiny-vit"')),
    BadInput("a negative learning rate", ("--set", "finetune.lr=-1")),
    BadInput("an infinite learning rate", ("--set", "finetune.lr=inf")),
    BadInput("a string where a number belongs", ("--set", 'dense.steps="many"')),
    BadInput("an unknown device", ("--device", "tpu")),
    BadInput("a negative checkpoint interval", ("--checkpoint-every", "-5")),
    BadInput("max_length beyond the model's positions", ("--set", "model.max_length=1024")),
    BadInput("a hyperparameter out of range", ("--method", "seven", "--set", "prune.hparams.beta1=1.0")),
    BadInput("a CSV with one class", table=b"text,label\n" + b"".join(b"review %d,pos\n" % i for i in range(50))),
    BadInput("a CSV with a header only", table=b"text,label\n"),
    BadInput("a CSV too small to split", table=b"text,label\nfine,pos\nawful,neg\n"),
    BadInput("a file that is not a CSV table", table=b"\xff\xfe\x00\x81binary"),
)


def refusal(case: BadInput, folder: Path) -> tuple[int, str]:
    """(exit status, message) of `python -m pruning run configs/smoke.toml` with the case, run
    in-process with `folder` as its runs folder (and the CSV written there, as FILE)."""
    from .cli import main

    args = list(case.args)
    if case.table is not None:
        data = folder / "table.csv"
        data.write_bytes(case.table)
        args += ["--set", f'data.name="csv:{data}"']
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            status = main(["run", str(SMOKE), *args, "--runs", str(folder / "runs")])
        except SystemExit as refused:  # argparse's own checks
            status = refused.code
    message = stderr.getvalue().strip().splitlines()[-1].partition("error: ")[2]
    return status, message.removeprefix("argument ").replace(str(folder / "table.csv"), "FILE")


def bad_inputs_markdown() -> str:
    """The README's table: every bad input and the message it gets."""
    rows = ["| bad input | exit | message |", "| --- | --- | --- |"]
    for case in BAD_INPUTS:
        with tempfile.TemporaryDirectory() as folder:
            status, message = refusal(case, Path(folder))
        shown = " ".join(case.args) if case.args else "data.name = csv:FILE"
        rows.append(f"| {case.what} (`{shown}`) | {status} | {message.replace('|', chr(92) + '|')} |")
    return "\n".join(rows)
