"""Commands configured by a config file: ``tapjax train``, ``tapjax lm``, ``tapjax active_learning``
and the ``python -m experiments.*`` entry points behind them.

    tapjax NAME --config FILE.py[:VARIANT] --workdir DIR [--data_dir D] [--config.FIELD=VALUE ...] [--json]

The config is an ml_collections ``get_config(variant)`` file (``experiments/configs/``), each of
its fields overridable on the command line (ml_collections' ``config_flags``, on absl's flags);
``--data_dir`` sets ``config.data.root``. The command keeps the contract of
:mod:`tapjax.cli.contract`: an unusable flag (an override of a field the config lacks, a bad
value, a missing ``--workdir``, a config file that fails) is one ``error:`` line and exit status 2.
The flags are parsed into fresh ``FlagValues`` at every call, so ``main(argv)`` may run again in
the same process.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Callable, Iterator

import ml_collections
from absl import flags, logging
from ml_collections import config_flags

from tapjax.cli import contract

USAGE = "usage: {prog} --config FILE.py[:VARIANT] --workdir DIR [--data_dir D] [--config.FIELD=VALUE ...] [--json]"
FLAGS = {"config": "the config file and its variant (default: {default})",
         "workdir": "the run's folder: its results (and checkpoints and logs, where the run keeps them)",
         "data_dir": f"the data root: sets config.data.root (default: {contract.DATA_ROOT})",
         "json": contract.JSON_HELP}

Work = Callable[[ml_collections.ConfigDict, str], contract.Result]


def run(work: Work, default_config: str, argv: list[str] | None, prog: str, doc: str) -> int:
    """Parses ``argv`` (``--config`` defaulting to ``default_config``) for the command ``prog`` (e.g.
    ``tapjax train``) documented by ``doc`` and runs ``work(config, workdir)`` under the contract;
    returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--help" in argv or "-h" in argv:
        print(_help(prog, doc, default_config))
        return 0
    try:
        values = _parse(default_config, argv)
    except contract.UsageError as error:
        return contract.fail(error)
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO

    def configured() -> contract.Result:  # a config file that failed to load fails here, as an OSError
        config = values.config
        if values.data_dir:
            config.data.root = values.data_dir
        return work(config, values.workdir)

    return contract.report(configured, values.json)


def _help(prog: str, doc: str, default_config: str) -> str:
    lines = [f"  --{flag:<10}{text.format(default=default_config)}" for flag, text in FLAGS.items()]
    return "\n".join([USAGE.format(prog=prog), "", doc, "flags:", *lines, "  --config.FIELD=VALUE  overrides a field"])


def _parse(default_config: str, argv: list[str]) -> flags.FlagValues:
    """The flags of ``argv``; an unusable one is a :class:`~tapjax.cli.contract.UsageError` of one line."""
    values = flags.FlagValues()
    with _flag_errors(argv):  # ml_collections applies overrides where --config is defined when it is not given
        config_flags.DEFINE_config_file("config", default_config, FLAGS["config"].format(default=default_config),
                                        flag_values=values, sys_argv=["tapjax", *argv])
        flags.DEFINE_string("data_dir", None, FLAGS["data_dir"], flag_values=values)
        flags.register_validator("data_dir", lambda path: path is None or Path(path).expanduser().is_dir(),
                                 "no such folder", flag_values=values)
        flags.DEFINE_string("workdir", None, FLAGS["workdir"], flag_values=values, required=True)
        flags.DEFINE_boolean("json", False, FLAGS["json"], flag_values=values)
        rest = values(["tapjax", *argv])
    if len(rest) > 1:
        raise contract.UsageError(f"unexpected arguments: {' '.join(rest[1:])}")
    return values


@contextlib.contextmanager
def _flag_errors(argv: list[str]) -> Iterator[None]:
    """Within it, absl's and ml_collections' flag errors are a one-line :class:`~tapjax.cli.contract.UsageError`."""
    try:
        yield
    except flags.Error as error:  # the first flag's problem; a config file's comes with its traceback: its last line
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        traceback = any(line.startswith("Traceback") for line in lines)
        raise contract.UsageError(lines[0] + (f" {lines[-1]}" if traceback else "")) from None
    except (AttributeError, KeyError) as error:  # ml_collections: no such field (KeyError: no such block)
        raise contract.UsageError(_unknown_field(argv, error)) from None


def _unknown_field(argv: list[str], error: Exception) -> str:
    """``--config.a.b: no such config field 'b'`` (with ml_collections' suggestion, if any)."""
    while error.args and isinstance(error.args[0], Exception):  # AttributeError(KeyError(message))
        error = error.args[0]
    lines = str(error.args[0] if error.args else error).splitlines()
    field = lines[0].strip("'\"") if lines else "?"
    given = [a.split("=")[0] for a in argv if a.startswith("--") and field in a.split("=")[0].split(".")]
    hint = f" ({lines[1]})" if len(lines) > 1 else ""
    return f"{given[0] if given else 'a flag'}: no such config field {field!r}{hint}"
