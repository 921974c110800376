"""The report as a picture: a trend whose points follow the period (by day up to a month,
by week up to 13 weeks, by month beyond), and the distribution of overall satisfaction
ratings, as one PNG (matplotlib, Agg backend). Axes that count people show whole numbers
only, from 0: three days of a quiet week are three points on a 0, 1, 2 scale, not one
point on a 0.0–1.0 one.

Counts are grouped by local day in the database (`reports.sections.local_time`) and
then into weeks or months here.

Matplotlib's bundled fonts have no Hangul: the chart uses an installed Korean font or
NanumGothic from the koreanize-matplotlib package, and draws its texts in English rather
than as empty boxes when neither is there.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.i18n import Translator, translator
from reports.sections import Scope, local_time, rating_questions, within
from storage import survey_defs
from storage.models import Booking, EventRegistration, SeekerProfile, SurveyAnswer

# Figures are drawn off-screen (no display on a server); pyplot is never imported.
matplotlib.use("Agg")

DAILY_UP_TO_DAYS = 31
WEEKLY_UP_TO_DAYS = 92
SERIES = ("registrations", "attended", "event_attendance", "survey_answers")
KOREAN_FONTS = ("NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "AppleGothic", "UnDotum")


@cache
def korean_font() -> str | None:
    """A font with Hangul: one installed on the machine, else NanumGothic from the
    koreanize-matplotlib package (used for its font file only; importing it would change
    matplotlib's settings for the whole process)."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    found = next((n for n in KOREAN_FONTS if n in names), None)
    if found is not None:
        return found
    spec = importlib.util.find_spec("koreanize_matplotlib")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "fonts" / "NanumGothic.ttf"
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path)).get_name()
    return None


async def _per_day(session: AsyncSession, scope: Scope, column: Any, *where: Any) -> Counter[dt.date]:
    day = local_time(session, column, scope, minutes=False)
    result = await session.execute(select(day, func.count()).where(within(column, scope), *where).group_by(day))
    return Counter({dt.date.fromisoformat(str(d)): int(n) for d, n in result})


def unit_of(days: int) -> str:
    """The trend's step for a period of `days`: "day", "week" or "month"."""
    return "day" if days <= DAILY_UP_TO_DAYS else "week" if days <= WEEKLY_UP_TO_DAYS else "month"


def bucket(day: dt.date, unit: str) -> dt.date:
    if unit == "day":
        return day
    return day - dt.timedelta(days=day.weekday()) if unit == "week" else day.replace(day=1)


def _next(day: dt.date, unit: str) -> dt.date:
    if unit == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1 if unit == "day" else 7)


async def trend(session: AsyncSession, scope: Scope) -> tuple[list[dt.date], dict[str, list[int]], str]:
    """(bucket starts, counts per series per bucket, the unit: day, week or month) for the period."""
    unit = unit_of(scope.period.days)
    daily = {
        "registrations": await _per_day(session, scope, SeekerProfile.registered_at),
        "attended": await _per_day(session, scope, Booking.starts_at, Booking.status == "attended"),
        "event_attendance": await _per_day(session, scope, EventRegistration.attended_at),
        "survey_answers": await _per_day(session, scope, SurveyAnswer.answered_at,
                                         SurveyAnswer.question == "overall"),
    }
    starts: list[dt.date] = []
    day = bucket(scope.period.first, unit)
    while day <= scope.period.last:
        starts.append(day)
        day = _next(day, unit)
    series = {}
    for name, counts in daily.items():
        per = Counter[dt.date]()
        for d, n in counts.items():
            per[bucket(d, unit)] += n
        series[name] = [per[s] for s in starts]
    return starts, series, unit


async def rating_distribution(session: AsyncSession, scope: Scope) -> dict[str, list[int]]:
    """Overall ratings 1–5 per survey that has them (consultations, events)."""
    result = await session.execute(
        select(SurveyAnswer.survey, SurveyAnswer.value_int, func.count())
        .where(within(SurveyAnswer.answered_at, scope), SurveyAnswer.question == "overall")
        .group_by(SurveyAnswer.survey, SurveyAnswer.value_int))
    ratings = rating_questions()
    out: dict[str, list[int]] = {}
    for survey, value, n in result:
        if (survey, "overall") in ratings and value is not None and value in survey_defs.RATING:
            out.setdefault(survey, [0] * len(survey_defs.RATING))[value - 1] += int(n)
    return out


def draw(t: Translator, scope: Scope, starts: list[dt.date], series: dict[str, list[int]], unit: str,
         ratings: dict[str, list[int]]) -> bytes:
    font = korean_font()
    if font is None and t.locale != "en":
        t = translator("en")
    # NanumGothic has no Unicode minus sign: axes write "-" instead.
    with matplotlib.rc_context({"font.family": font, "axes.unicode_minus": False} if font else None):
        fig = figure(t, scope, starts, series, unit, ratings)
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return out.getvalue()


def figure(t: Translator, scope: Scope, starts: list[dt.date], series: dict[str, list[int]], unit: str,
           ratings: dict[str, list[int]]) -> Figure:
    """The two panels, not yet drawn (`draw` renders them with the Korean font)."""
    fig = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    trend_ax, dist_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    labels = [f"{d:%Y-%m}" if unit == "month" else f"{d.month}/{d.day}" for d in starts]
    x = list(range(len(starts)))
    for name in SERIES:
        trend_ax.plot(x, series[name], marker="o", markersize=3, label=t(f"chart.series.{name}"))
    step = max(1, len(x) // 12)
    trend_ax.set_xticks(x[::step], labels[::step], rotation=45, fontsize=8)
    trend_ax.set_title(t(f"chart.trend_{unit}"))
    # People are counted in whole numbers, from 0 (an empty period still shows 0 to 1, in steps of 1).
    trend_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    trend_ax.set_ylim(0, max([1, *(max(v, default=0) for v in series.values())]) * 1.1)
    trend_ax.legend(fontsize=8)
    trend_ax.grid(alpha=0.3)
    values = list(survey_defs.RATING)
    width = 0.8 / max(1, len(ratings))
    for i, (survey, counts) in enumerate(sorted(ratings.items())):
        dist_ax.bar([v + (i - (len(ratings) - 1) / 2) * width for v in values], counts, width=width,
                    label=survey_defs.latest(survey).title[t.locale] if survey in survey_defs.SURVEYS else survey)
    dist_ax.set_xticks(values)
    dist_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    dist_ax.set_title(t("chart.ratings"))
    if ratings:
        dist_ax.legend(fontsize=8)
    else:
        dist_ax.text(3, 0.5, t("chart.no_ratings"), ha="center", va="center")
        dist_ax.set_ylim(0, 1)
    fig.suptitle(t("chart.title", first=scope.period.first.isoformat(), last=scope.period.last.isoformat()))
    return fig


async def png(session: AsyncSession, scope: Scope, t: Translator) -> bytes:
    starts, series, unit = await trend(session, scope)
    return draw(t, scope, starts, series, unit, await rating_distribution(session, scope))
