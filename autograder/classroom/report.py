"""What a batch writes for the instructor: grades CSV, per-cell CSV, and a summary page with plots.

Scores come from the course gradebook (so the CSV agrees with ``nbgrader export`` and the
formgrader); statuses and reasons come from the batch's journal. The summary shows, per
assignment, the score distribution and, for each test cell, how many students did not get its
points: what the class did not understand.
"""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry

__all__ = ["ClassResults", "collect_results", "write_reports"]


@dataclass
class Row:
    student: str
    score: float
    max_score: float
    late_penalty: float
    needs_manual_grade: bool
    status: str
    notes: list[str]
    cells: dict[tuple[str, str], tuple[float | None, float]]  #: (notebook, cell) -> (score, max)


@dataclass
class ClassResults:
    assignment: str
    rows: list[Row] = field(default_factory=list)
    cells: list[tuple[str, str]] = field(default_factory=list)  #: test cells in notebook order


def collect_results(db_url: str, assignments: list[str], journal: dict[tuple[str, str], dict[str, Any]]
                    ) -> list[ClassResults]:
    """Every submission of each assignment in the gradebook, with the journal's status and notes."""
    results = []
    with Gradebook(db_url) as gb:
        for assignment in assignments:
            result = ClassResults(assignment)
            try:
                record = gb.find_assignment(assignment)
            except MissingEntry:
                results.append(result)
                continue
            for notebook in record.notebooks:
                result.cells += [(notebook.name, c.name) for c in notebook.grade_cells if c.cell_type == "code"]
            for submission in sorted(record.submissions, key=lambda s: s.student.id):
                entry = journal.get((submission.student.id, assignment), {})
                cells = {}
                for nb in submission.notebooks:
                    for grade in nb.grades:
                        if grade.cell_type == "code":
                            cells[(nb.name, grade.name)] = (grade.score, float(grade.max_score))
                result.rows.append(Row(
                    student=submission.student.id, score=float(submission.score),
                    max_score=float(submission.max_score),
                    late_penalty=float(submission.late_submission_penalty or 0),
                    needs_manual_grade=bool(submission.needs_manual_grade),
                    status=entry.get("status", "graded before"), notes=entry.get("notes", []), cells=cells))
            listed = {row.student for row in result.rows}
            for (student, name), entry in sorted(journal.items()):
                if name == assignment and student not in listed:  # never merged: still listed, with why
                    result.rows.append(Row(student, 0.0, sum(float(c.max_score) for nb in record.notebooks
                                                             for c in nb.grade_cells), 0.0, True,
                                           entry.get("status", "failed"), entry.get("notes", []), {}))
            results.append(result)
    return results


def write_reports(out: Path, results: list[ClassResults], extra: dict[str, Any]) -> dict[str, Path]:
    """``grades.csv``, ``cells.csv``, ``summary.html`` and its plots in ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"grades": out / "grades.csv", "cells": out / "cells.csv", "summary": out / "summary.html"}
    with open(paths["grades"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["assignment", "student_id", "score", "max_score", "late_penalty", "needs_manual_grade",
                         "status", "notes"])
        for result in results:
            for row in result.rows:
                writer.writerow([result.assignment, row.student, f"{row.score:g}", f"{row.max_score:g}",
                                 f"{row.late_penalty:g}", row.needs_manual_grade, row.status, " | ".join(row.notes)])
    with open(paths["cells"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["assignment", "student_id", "notebook", "cell", "score", "max_score"])
        for result in results:
            for row in result.rows:
                for (notebook, cell), (score, most) in sorted(row.cells.items()):
                    writer.writerow([result.assignment, row.student, notebook, cell,
                                     "" if score is None else f"{score:g}", f"{most:g}"])
    plots = {}
    for result in results:
        if result.rows:
            plots[result.assignment] = _plot(out, result)
    paths["summary"].write_text(_summary(results, plots, extra))
    return paths


def failures(result: ClassResults) -> list[tuple[str, int]]:
    """For each test cell, how many students did not get all its points."""
    counts = []
    for key in result.cells:
        failed = sum(1 for row in result.rows if key in row.cells
                     and (row.cells[key][0] is None or row.cells[key][0] < row.cells[key][1]))
        counts.append((key[1] if len({nb for nb, _ in result.cells}) == 1 else f"{key[0]}: {key[1]}", failed))
    return counts


def _plot(out: Path, result: ClassResults) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    scores = [row.score for row in result.rows]
    top = max((row.max_score for row in result.rows), default=1) or 1
    whole = all(float(s).is_integer() for s in scores) and top <= 40
    bins = [x - 0.5 for x in range(int(top) + 2)] if whole else 20
    left.hist(scores, bins=bins, range=None if whole else (0, top), color="#4c72b0", edgecolor="white")
    left.set(title=f"{result.assignment}: scores of {len(scores)} students", xlabel=f"score (out of {top:g})",
             ylabel="students")
    counts = failures(result)
    names = [name for name, _ in counts][::-1]
    right.barh(names, [n for _, n in counts][::-1], color="#dd8452")
    right.set(title="students who did not get each test's points", xlabel="students")
    right.set_xlim(0, max(1, len(scores)))
    fig.tight_layout()
    name = f"{result.assignment}.png"
    fig.savefig(out / name, dpi=90)
    plt.close(fig)
    return name


def _summary(results: list[ClassResults], plots: dict[str, str], extra: dict[str, Any]) -> str:
    e = html.escape
    parts = ["<!doctype html><meta charset='utf-8'><title>Class grading summary</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{padding:2px 8px;"
             "text-align:left;vertical-align:top}tr:nth-child(even){background:#f4f4f4}.warn{color:#a00}</style>",
             "<h1>Class grading summary</h1>"]
    for line in extra.get("header", []):
        parts.append(f"<p>{e(line)}</p>")
    if extra.get("sandbox"):
        parts.append("<h2>Sandbox</h2><pre>" + e(extra["sandbox"]) + "</pre>")
    for result in results:
        rows = result.rows
        parts.append(f"<h2>{e(result.assignment)}</h2>")
        if not rows:
            parts.append("<p>No submissions.</p>")
            continue
        scores = sorted(r.score for r in rows)
        mean = sum(scores) / len(scores)
        median = scores[len(scores) // 2] if len(scores) % 2 else (scores[len(scores) // 2 - 1] + scores[len(scores) // 2]) / 2
        parts.append(f"<p>{len(rows)} submissions; mean {mean:.1f}, median {median:g} of {rows[0].max_score:g}; "
                     f"{sum(r.status == 'flagged' for r in rows)} flagged, {sum(r.status == 'failed' for r in rows)} "
                     f"not graded.</p>")
        if result.assignment in plots:
            parts.append(f"<img src='{e(plots[result.assignment])}' alt='scores and failed tests' width='100%'>")
        parts.append("<table><tr><th>test cell</th><th>students without its points</th></tr>")
        for name, count in failures(result):
            parts.append(f"<tr><td>{e(name)}</td><td>{count} of {len(rows)}</td></tr>")
        parts.append("</table>")
        attention = [r for r in rows if r.status in ("flagged", "failed") or r.notes]
        if attention:
            parts.append("<h3>Needs a look</h3><table><tr><th>student</th><th>score</th><th>status</th>"
                         "<th>why</th></tr>")
            for r in attention:
                notes = "<br>".join(e(n) for n in r.notes)
                parts.append(f"<tr><td>{e(r.student)}</td><td>{r.score:g}/{r.max_score:g}</td>"
                             f"<td class='warn'>{e(r.status)}</td><td>{notes}</td></tr>")
            parts.append("</table>")
    for line in extra.get("problems", []):
        parts.append(f"<p class='warn'>{e(line)}</p>")
    return "\n".join(parts) + "\n"
