"""tsjnet_plugin/ablation.py: aggregation over seeds, the table, the findings and the markers."""

import math

import pytest

from tsjnet_plugin.ablation import VARIANTS, aggregate, findings, format_table
from tsjnet_plugin.markdown_blocks import replace_block


def _run(variant, init, seed, ap50, miou=50.0):
    return {"variant": variant, "init": init, "seed": seed, "AP50": ap50, "AP": ap50 / 2,
            "mIoU": miou, "VIF": 0.5}  # fmt: skip


def test_aggregate_mean_and_sample_std_in_variant_order():
    runs = [_run("+det", "pretrained", s, v) for s, v in enumerate((10.0, 20.0, 30.0))]
    runs += [_run("fusion-only", "pretrained", 0, 5.0), _run("fusion-only", "pretrained", 1, 7.0)]
    runs += [_run("visible-only", "none", 0, math.nan)]
    rows = aggregate(runs)
    assert [(r["variant"], r["init"]) for r in rows] == [
        ("fusion-only", "pretrained"),
        ("+det", "pretrained"),
        ("visible-only", "none"),
    ]
    assert rows[1]["AP50"]["mean"] == pytest.approx(20.0)
    assert rows[1]["AP50"]["std"] == pytest.approx(10.0)  # sample std of 10, 20, 30
    assert rows[0]["AP50"]["std"] == pytest.approx(math.sqrt(2.0))
    assert math.isnan(rows[2]["AP50"]["mean"]) and rows[2]["seeds"] == [0]
    table = format_table(rows)
    assert (
        "| +det | pretrained | 3 | 20.0 ± 10.0 | 10.0 ± 5.0 | 50.0 ± 0.0 | 0.500 ± 0.000 |" in table
    )
    assert "| visible-only | none | 1 | n/a |" in table


def test_findings_compare_joint_variants_with_fusion_only_against_the_spread():
    runs = [_run("fusion-only", "random", s, v) for s, v in enumerate((10.0, 12.0, 14.0))]
    runs += [_run("+both-sum", "random", s, v) for s, v in enumerate((30.0, 31.0, 32.0))]
    runs += [_run("+seg", "random", s, v) for s, v in enumerate((11.0, 13.0, 15.0))]
    lines = findings(aggregate(runs))
    assert "mAP@0.5: highest mean +both-sum (rand) 31.0 ± 1.0." in lines
    assert "mAP@0.5, random init: +both-sum vs fusion-only +19.0 (beyond the spread 2.0)." in lines
    assert "mAP@0.5, random init: +seg vs fusion-only +1.0 (within the spread 2.0)." in lines
    runs += [_run("visible-only", "none", s, v) for s, v in enumerate((20.0, 20.0, 23.0))]
    runs += [_run("infrared-only", "none", s, v) for s, v in enumerate((5.0, 6.0, 7.0))]
    lines = findings(aggregate(runs))
    # fusion-only against the better baseline (visible-only here), before the joint variants
    assert (
        lines[1]
        == "mAP@0.5, random init: fusion-only vs visible-only -9.0 (beyond the spread 2.0)."
    )


def test_replace_block_replaces_only_its_block_and_appends_when_missing():
    text = "# R\n\n<!-- ablation:full:begin -->\nold\n<!-- ablation:full:end -->\n\ntail\n"
    new = replace_block(text, "ablation:full", "new table")
    assert (
        new
        == "# R\n\n<!-- ablation:full:begin -->\nnew table\n<!-- ablation:full:end -->\n\ntail\n"
    )
    both = replace_block(new, "ablation:quick", "q")
    assert both.endswith("tail\n\n<!-- ablation:quick:begin -->\nq\n<!-- ablation:quick:end -->\n")
    assert replace_block(both, "ablation:quick", "q") == both


def test_variant_table_covers_the_issue():
    fused = {n for n, v in VARIANTS.items() if v.fused}
    assert fused == {"fusion-only", "+det", "+seg", "+both-alternate", "+both-sum", "+both-ratio"}
    assert {v.schedule for v in VARIANTS.values() if len(v.tasks) == 2} == {
        "alternate",
        "sum",
        "ratio",
    }
    assert {v.source for v in VARIANTS.values() if not v.fused} == {"visible", "infrared"}
