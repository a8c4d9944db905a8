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

import glob
import os
import sys

import pandas as pd
import yaml

from focus_validator import main as cli
from focus_validator.data_loaders import csv_data_loader
from focus_validator.validator import DEFAULT_VERSION_SETS_PATH


def string_columns(version):
    """The columns the rule set of `version` declares strings."""
    columns = set()
    for path in glob.glob(os.path.join(DEFAULT_VERSION_SETS_PATH, version, "*.yaml")):
        with open(path, encoding="utf-8") as f:
            rule = yaml.safe_load(f) or {}
        check = rule.get("check")
        if isinstance(check, dict) and check.get("data_type") == "string":
            columns.add(rule["column_id"])
    return columns


def main():
    version = "1.0"
    if "--validate-version" in sys.argv:
        version = sys.argv[sys.argv.index("--validate-version") + 1]
    strings = string_columns(version)
    if not strings:
        sys.exit(f"no string columns found in {DEFAULT_VERSION_SETS_PATH}/{version}")

    def load(self):
        return pd.read_csv(self.data_filename, dtype={c: str for c in strings})

    csv_data_loader.CSVDataLoader.load = load
    cli.main()


if __name__ == "__main__":
    main()
