"""`spikestream keys generate DIR [--name NAME]`: a CURVE key pair for a stage.

Writes DIR/NAME.key (the public key: copy it to the hosts this stage talks to) and
DIR/NAME.key_secret (mode 0600: keep it on this stage's host). Name the files in the
pipeline TOML with `curve_public_key` and `curve_secret_key` on the stage's table.
"""

from __future__ import annotations

import argparse
import json

from pipeline.security import generate_keys

HELP = "generate a CURVE key pair (public .key, secret .key_secret with mode 0600) for a stage's links"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    gen = sub.add_parser("generate", help="write NAME.key and NAME.key_secret into DIR")
    gen.add_argument("dir", help="directory for the key files (created if missing)")
    gen.add_argument("--name", default="stage", help="file name stem (default: stage)")
    gen.add_argument("--force", action="store_true", help="replace existing key files")
    gen.add_argument("--json", action="store_true", help="print the file paths and public key as JSON")


def run(args: argparse.Namespace) -> int:
    public_path, secret_path = generate_keys(args.dir, args.name, force=args.force)
    public = public_path.read_text().split('public-key = "')[1].split('"')[0]
    if args.json:
        print(json.dumps({"public_key_file": str(public_path), "secret_key_file": str(secret_path),
                          "public_key": public}))
    else:
        print(f"public key  {public_path}  ({public})")
        print(f"secret key  {secret_path}  (mode 0600: keep it on this stage's host)")
    return 0
