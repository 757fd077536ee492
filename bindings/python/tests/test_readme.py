"""The README's examples run as they are, against the test nodes."""

import os
import pathlib
import re
import subprocess
import sys

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_examples_run(nodes):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    env = dict(os.environ, REDLEAD_NODES=",".join(n.url for n in nodes))
    out = subprocess.run([sys.executable, "-c", "\n".join(blocks)], env=env,
                         capture_output=True, text=True, timeout=60,
                         cwd=os.path.dirname(os.path.abspath(os.sep)))
    print(out.stdout, out.stderr[-2000:])
    assert out.returncode == 0, out.stderr
    for words in ("token ", "only one process runs this",
                  "leading, term", "done", "stepped down: resigned", "led term"):
        assert words in out.stdout, words
    assert "INFO:redlead.election.lead:elected" in out.stderr
