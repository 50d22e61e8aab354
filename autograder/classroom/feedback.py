"""Feedback HTML that does not give the hidden tests away.

nbgrader's ``generate_feedback`` renders the autograded notebook, whose test cells hold the full
source, hidden tests included (nbgrader issues 917 and 1363). :class:`HideHiddenTests` runs first
in the feedback converter: it removes every hidden-test region from the source, as
``generate_assignment`` did for the release, and, in cells that had one, shortens each error to
its last line (``CheckFailed: <the message written for learners>``), because a traceback quotes
the failing line. Scores and everything else are nbgrader's ``GetGrades`` and template.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from nbconvert.exporters import Exporter
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.writers import FilesWriter
from nbformat import NotebookNode
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

__all__ = ["FeedbackConverter", "HideHiddenTests", "FEEDBACK_PREPROCESSORS"]


class HideHiddenTests(ClearHiddenTests):
    """``ClearHiddenTests`` for feedback: strip hidden regions and the tracebacks that quote them."""

    enforce_metadata = False  # a learner's own cell may contain the markers; never fail on it

    def preprocess_cell(self, cell: NotebookNode, resources: Any, cell_index: int) -> tuple[NotebookNode, Any]:
        try:
            removed = self._remove_hidden_test_region(cell)
        except RuntimeError:  # unbalanced markers (a learner's cell): hide the whole source
            cell.source, removed = "# (source hidden)", True
        if removed and cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"\x1b[0;31m{output.get('ename', 'Error')}\x1b[0m: {output.get('evalue', '')}"]
        return cell, resources


FEEDBACK_PREPROCESSORS = [HideHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]


class FeedbackConverter(GenerateFeedback):
    """nbgrader's ``GenerateFeedback``, keeping its HTML exporter (and compiled templates) between calls.

    ``BaseConverter.start`` builds a new exporter each time; compiling the feedback template costs
    about as much as rendering it. A worker converts one submission at a time, with one config.
    """

    _exporter: ClassVar[Exporter | None] = None

    def start(self) -> None:
        self.init_notebooks()
        self.writer = FilesWriter(parent=self, config=self.config)
        if type(self)._exporter is None:
            exporter = self.exporter_class(parent=self, config=self.config)
            for pp in self.preprocessors:
                exporter.register_preprocessor(pp)
            type(self)._exporter = exporter
        self.exporter = type(self)._exporter
        here = os.getcwd()
        os.chdir(self.coursedir.root)
        try:
            self.convert_notebooks()
        finally:
            os.chdir(here)
