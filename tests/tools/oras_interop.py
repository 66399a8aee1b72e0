"""Drives the independent OCI client oras-py for Weft's interop tests.

  oras_interop.py push HOST REPO:TAG FILE   push FILE as a CNCF wasm artifact
  oras_interop.py pull HOST REPO:TAG OUTDIR pull it, print the files as JSON
"""
import json
import os
import sys
import tempfile

import oras.client

WASM_LAYER = "application/wasm"
WASM_CONFIG = "application/vnd.wasm.config.v0+json"


def main(argv):
    command, host, target = argv[1], argv[2], argv[3]
    client = oras.client.OrasClient(hostname=host, insecure=True)
    ref = f"{host}/{target}"
    if command == "push":
        path = os.path.abspath(argv[4])
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "config.json")
            with open(config, "w") as f:
                json.dump({"architecture": "wasm", "os": "wasip2"}, f)
            client.push(
                target=ref,
                files=[f"{path}:{WASM_LAYER}"],
                manifest_config=f"{config}:{WASM_CONFIG}",
                disable_path_validation=True,
                quiet=True,
            )
        print(json.dumps({"pushed": ref}))
    elif command == "pull":
        files = client.pull(target=ref, outdir=argv[4])
        print(json.dumps({"files": files}))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv)
