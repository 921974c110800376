"""KPI reports: the figures admins read in `/stats`, the weekly digest and the exports.

A report is a list of sections (`reports.sections.SECTIONS`), one function each, so a
new kind of figure is one function added to that list. The same sections are rendered
as chat text (`render`), as CSV and XLSX files (`export`, which streams the per-answer
rows) and partly as a chart (`chart`).
"""
