#!/usr/bin/env python3
"""validate.py SCHEMA_DIR [FILE]: validates a CDI spec (FILE, else stdin)
against SCHEMA_DIR/schema.json, whose $refs name defs.json beside it.
Exit 0 valid, 1 invalid (the first error on stderr), 77 without jsonschema."""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    sys.exit(77)


def validator(schema_dir):
    with open(os.path.join(schema_dir, "schema.json")) as f:
        schema = json.load(f)
    with open(os.path.join(schema_dir, "defs.json")) as f:
        defs = json.load(f)
    cls = jsonschema.Draft7Validator
    try:  # jsonschema >= 4.18 resolves $ref through `referencing`
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT7

        registry = Registry().with_resource(
            "defs.json", Resource.from_contents(defs, default_specification=DRAFT7))
        return cls(schema, registry=registry)
    except ImportError:  # Debian 12's 4.10
        resolver = jsonschema.RefResolver(base_uri="", referrer=schema,
                                          store={"defs.json": defs})
        return cls(schema, resolver=resolver)


def main():
    v = validator(sys.argv[1])
    doc = json.load(open(sys.argv[2]) if len(sys.argv) > 2 else sys.stdin)
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        print("/".join(map(str, e.path)) + ": " + e.message, file=sys.stderr)
        sys.exit(1)


main()
