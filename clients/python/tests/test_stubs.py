"""The committed stubs in src/shardopt/v1 are what protoc generates from proto/ now."""

import filecmp
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = os.path.join(HERE, "..", "scripts", "generate_stubs.py")
COMMITTED = os.path.join(HERE, "..", "src")
sys.path.insert(0, os.path.dirname(GENERATOR))
import generate_stubs  # noqa: E402


class StubsAreCurrentTest(unittest.TestCase):
    def test_regenerated_stubs_equal_the_committed_ones(self):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, GENERATOR, "--out", out], check=True, timeout=180)
            stale = [f for f in generate_stubs.GENERATED
                     if not filecmp.cmp(os.path.join(out, f), os.path.join(COMMITTED, f), shallow=False)]
            self.assertEqual([], stale, "stale stubs; run /usr/bin/python3 clients/python/scripts/generate_stubs.py")

    def test_every_generated_file_is_committed_and_nothing_else(self):
        committed = sorted(f for f in os.listdir(os.path.join(COMMITTED, "shardopt", "v1")) if "_pb2" in f)
        self.assertEqual(sorted(os.path.basename(f) for f in generate_stubs.GENERATED), committed)


if __name__ == "__main__":
    unittest.main()
