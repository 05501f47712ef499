"""In-process NLU parse latency of a trained model over the held-out sentences.

Loads a model (the newest under models/ or var/nlu-eval-models/, or the one given), parses
every sentence of tests/nlu/*.yml a few times, one message at a time, and prints p50 / p95 /
max per message.

    .venv/bin/python bench/bench_nlu.py [--model path.tar.gz] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def newest_model() -> Path | None:
    candidates = [
        *ROOT.joinpath("models").glob("tiepdan-*.tar.gz"),  # not the stock baseline
        *ROOT.joinpath("var", "nlu-eval-models").glob("ours-*.tar.gz"),
    ]
    return max(candidates, key=lambda p: p.stat().st_mtime) if candidates else None


def held_out_sentences(tests_dir: Path) -> list[str]:
    from bot.nlu.evaluate import load_examples

    sentences: list[str] = []
    for path in sorted(tests_dir.glob("*.yml")):
        sentences += [example.text for example in load_examples(path)]
    return sentences


async def measure(model: Path, sentences: list[str], repeat: int) -> list[float]:
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    agent = Agent.load(str(model))
    processor = agent.processor
    assert processor is not None, f"{model} is not a Rasa model"
    await processor.parse_message(UserMessage("xin chào"))  # warm-up
    timings = []
    for _ in range(repeat):
        for sentence in sentences:
            started = time.perf_counter()
            await processor.parse_message(UserMessage(sentence))
            timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model archive (default: the newest)")
    parser.add_argument("--tests", type=Path, default=ROOT / "tests" / "nlu")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    from bot.nlu.evaluate import percentile, quiet_rasa

    quiet_rasa()
    model = args.model or newest_model()
    if model is None or not model.is_file():
        print("bench_nlu: no trained model; run `tiepdan train` or `tiepdan nlu eval` first.")
        return 2
    sentences = held_out_sentences(args.tests)
    if not sentences:
        print(f"bench_nlu: no held-out sentences in {args.tests}.")
        return 2
    timings = asyncio.run(measure(model, sentences, args.repeat))
    result = {
        "model": model.name,
        "messages": len(timings),
        "p50_ms": round(percentile(timings, 50) * 1000, 2),
        "p95_ms": round(percentile(timings, 95) * 1000, 2),
        "max_ms": round(max(timings) * 1000, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"NLU parse latency ({result['model']}, {result['messages']} messages, in-process): "
            f"p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, max {result['max_ms']} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
