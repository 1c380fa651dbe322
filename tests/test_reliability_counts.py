"""docs/reliability.md gives the number of cases of each reliability suite: the numbers the suite has."""

from __future__ import annotations

from tests import count_cases


def test_the_reliability_page_counts_the_cases_the_suite_collects() -> None:
    cases = count_cases.collect()
    assert cases, "no reliability case was collected"
    expected = count_cases.table(cases)
    found = count_cases.page_table(count_cases.DOC.read_text(encoding="utf-8"))
    assert found == expected, (
        "docs/reliability.md does not give the suite's case counts; run `python -m tests.count_cases "
        f"--write` (or paste the table below between its markers):\n\n{expected}\n"
    )
