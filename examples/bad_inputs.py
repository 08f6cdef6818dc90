"""Bad input gets a typed error naming the file, field, value and fix — and nothing changes (docs/errors.md)."""

import tempfile
from pathlib import Path

from engine.config import load_household
from engine.config.strict_yaml import strict_load
from engine.errors import ConfigError, EngineError
from robo.cli import main
from robo.cli._exit import exit_code_for

sample = Path(__file__).resolve().parent.parent / "config" / "households" / "sample.yaml"
text = sample.read_text(encoding="utf-8")
mistakes = {
    "a duplicate key": text.replace("cash: 12500", "cash: 12500, cash: 99999999", 1),
    "shares beyond 18 decimals": text.replace("shares: 180,", "shares: 25.0000000000000000000001,", 1),
    "a lot bought in 2099": text.replace("acquired: 2019-03-15", "acquired: 2099-03-15", 1),
    "a misspelt ESG tag": text.replace("tobacco]", "tobaco]", 1),
}
with tempfile.TemporaryDirectory() as tmp:
    for what, content in mistakes.items():
        assert content != text, f"{what}: the sample changed; update the example"
        path = Path(tmp) / "household.yaml"
        path.write_text(content, encoding="utf-8")
        try:
            load_household(path)
        except EngineError as exc:
            print(f"{what}: exit {int(exit_code_for(exc))}, {type(exc).__name__}: {str(exc).replace(tmp, '')}")

try:
    strict_load("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)))
except ConfigError as exc:
    print("a billion laughs:", exc.reason[:90])

print("robo rebalance sample --amount nan → exit", main(["rebalance", "sample", "--amount", "nan"]))
