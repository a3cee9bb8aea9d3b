"""attnkit bench decode-precision: the same run decoded in float32 and with a bf16 product."""

import json

from attnkit.bench import decode_precision
from attnkit.tasks import open_run


def test_compares_both_precisions_on_dev(tiny_translate_run, tmp_path, monkeypatch, capsys):
    run_dir, _, home = tiny_translate_run
    monkeypatch.setenv("ATTNKIT_HOME", str(home))
    run = open_run(run_dir, task="translate")
    reference = run.task.evaluate(run, "dev")  # the run's own float32 decoding
    fp32_outputs = (run_dir / "dev.hyp.txt").read_text("utf-8").splitlines()

    assert decode_precision.main(["--model", str(run_dir), "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "decode-precision-latest.json").read_text())
    got = record["runs"][run_dir.name]
    assert got["bf16=False"]["bleu"] == reference["bleu"]
    assert got["bf16=False"]["sentences"] == reference["sentences"] == len(fp32_outputs)
    bf16_outputs = (run_dir / "dev.hyp.txt").read_text("utf-8").splitlines()  # the last one
    changed = sum(a != b for a, b in zip(fp32_outputs, bf16_outputs, strict=True))
    assert got["changed_share"] == round(changed / len(fp32_outputs), 4)
    speeds = [got[k]["sentences_per_second"] for k in ("bf16=False", "bf16=True")]
    assert got["speedup"] == round(speeds[1] / speeds[0], 3)
    assert record["split"] == "dev" and run_dir.name in capsys.readouterr().out
