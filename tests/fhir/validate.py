"""Validates FHIR R4 (4.0.1) resources with an implementation independent of rusreg's:
the `fhir.resources` package (6.4.0, whose default models are R4 4.0.1), on pydantic 1.

Reads a JSON array of resources on standard input. Every resource, and every resource inside a
Bundle's entries, is parsed into its R4 model class; unknown elements, wrong types, missing
required elements and invalid primitive formats fail. Prints one line per failure and exits 1 if
there was any, 0 otherwise. The tests run it through FHIR_RESOURCES_PYTHON (.ci/run sets it).
"""

import json
import sys

import fhir.resources
from fhir.resources import construct_fhir_element

assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__


def check(resource, where, failures):
    kind = resource.get("resourceType")
    try:
        construct_fhir_element(kind, resource)
    except Exception as e:  # pydantic's ValidationError and the factory's own errors
        failures.append(f"{where} ({kind}): {e}")
        return
    if kind == "Bundle":
        for i, entry in enumerate(resource.get("entry", [])):
            if "resource" in entry:
                check(entry["resource"], f"{where}.entry[{i}]", failures)


def main():
    resources = json.load(sys.stdin)
    failures = []
    for i, r in enumerate(resources):
        check(r, f"[{i}]", failures)
    for f in failures:
        print(f)
    print(f"{len(resources)} resource(s) checked, {len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


main()
