"""The commands: ``tapjax COMMAND ...`` (:mod:`tapjax.cli.__main__` lists them), one module per
command named after it, each a ``main(argv) -> int`` keeping :mod:`tapjax.cli.contract`. Commands
only parse flags and print results; the work is the library's (``tapjax.tap``, ``tapjax.al``)."""
