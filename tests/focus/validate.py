"""Runs focus_validator 1.0.0, its rules and its command line unchanged, on a FOCUS CSV file,
with one defect of its CSV loader corrected.

Its loader is `pandas.read_csv(path)`: pandas guesses each column's type from the text, so a
String column whose values are all digits (Elastic's organization ids, "3166899605", in
BillingAccountId) is read as integers and fails the validator's own `<Column>_IsString` check,
whatever the file says. CSV has no types; the specification gives them. This loader reads every
column the validator's own rule set declares `data_type: string` (for the version validated) as
text, and lets pandas guess the rest, as before. Every check still runs as released.

Usage: python validate.py <focus_validator arguments>, run where focus-validator is run.
"""

import argparse
import glob
import os

import pandas as pd
import yaml

from focus_validator import main as cli
from focus_validator.data_loaders import csv_data_loader
from focus_validator.validator import DEFAULT_VERSION_SETS_PATH


def string_columns(rule_set_path, version):
    """The columns the rule set of `version` declares strings."""
    columns = set()
    for path in glob.glob(os.path.join(rule_set_path, version, "*.yaml")):
        with open(path, encoding="utf-8") as f:
            rule = yaml.safe_load(f) or {}
        check = rule.get("check")
        column = rule.get("column_id")
        if column and isinstance(check, dict) and check.get("data_type") == "string":
            columns.add(column)
    return columns


def main():
    # The two options the loader needs, read as the validator's own parser reads them (its
    # defaults; `=` and abbreviations too); everything is passed on to it unchanged.
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--validate-version", default="1.0")
    parser.add_argument("--rule-set-path", default=DEFAULT_VERSION_SETS_PATH)
    args, _ = parser.parse_known_args()
    strings = string_columns(args.rule_set_path, args.validate_version)
    if not strings:
        raise SystemExit(f"no string columns in {args.rule_set_path}/{args.validate_version}")

    def load(self):
        return pd.read_csv(self.data_filename, dtype={c: str for c in strings})

    csv_data_loader.CSVDataLoader.load = load
    cli.main()


if __name__ == "__main__":
    main()
