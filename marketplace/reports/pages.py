"""The reports as self-contained HTML pages: inline CSS and SVG, no script, nothing fetched from the network.

Jinja2 with autoescape on for every template; the only markup inserted unescaped is the SVG
matplotlib wrote (it escapes the text it draws, class names included). A saved page opens offline.
"""
import functools

from markupsafe import Markup

from marketplace.reports import plots

# The pages run no script and load nothing: a browser holds them to that.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


@functools.cache
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("marketplace.reports", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), undefined=StrictUndefined)
    env.filters["cents"] = lambda cents, currency: f"{cents / 100:,.2f} {currency.upper()}" if cents is not None else "—"
    env.filters["num"] = lambda value, digits=3: "—" if value is None else f"{value:.{digits}f}"
    env.filters["pct"] = lambda value: "—" if value is None else f"{100 * value:.1f}%"
    return env


def _render(template: str, **context) -> str:
    return _environment().get_template(template).render(**context)


def project_page(report: dict) -> str:
    """The project's quality report as an HTML page."""
    figures = {}
    if report["answers"]:
        figures["gold_accuracy"] = plots.gold_accuracy(report["answers_by_day"])
        figures["answers_per_task"] = plots.answers_per_task(report["answers_per_task"])
        figures["redundancy"] = plots.redundancy(report["redundancy"])
        if report["confusion"]["applicable"] and report["confusion"]["answers"]:
            figures["confusion"] = plots.confusion(report["confusion"])
        figures["trust"] = plots.distributions(report["trust"])
        if report["agreement_over_time"]["points"]:
            figures["agreement"] = plots.agreement(report["agreement_over_time"])
    return _render("project_report.html", r=report, svg={k: Markup(v) for k, v in figures.items()})


def marketplace_page(report: dict) -> str:
    """The admin's marketplace report as an HTML page."""
    figures = {"throughput": plots.throughput(report["throughput"]),
               "disputes": plots.disputes(report["disputes"]["by_day"])}
    if report["money"]["totals"]:
        figures["money"] = plots.money(report["money"]["totals"])
    return _render("marketplace_report.html", r=report, svg={k: Markup(v) for k, v in figures.items()})
