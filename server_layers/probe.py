"""`server-layers probe`: the conformance matrix measured (conformance.probe), then rendered (reports.matrix).

Writes conformance.json, conformance.md and conformance.html into --out. It never serves in-process.
"""

import sys

from conformance.probe import ProbeError, default_out, parser, probe_command, write_data
from oneline import fail
from reports.matrix import write_pages


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    out = args.out or default_out()
    if (out / "conformance.json").exists() and not args.force:
        fail(f"server-layers probe: {out / 'conformance.json'} exists (use --force or another --out)")
    try:
        matrix, seconds = probe_command(args)
    except ProbeError as exc:
        fail(f"server-layers probe: {exc}")
    files = [write_data(matrix, out), *write_pages(matrix, out)]
    t = matrix.totals
    print(f"{t.cases} cases x {t.servers} servers in {seconds:.0f} s: "
          f"{t.contract} cells differ from the contract, {t.diverging} from the other servers")
    print("\n".join(map(str, files)))
    return 1 if t.contract or t.diverging else 0


if __name__ == "__main__":
    sys.exit(main())
