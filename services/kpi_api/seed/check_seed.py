"""Validate the KPI registry seed files (sdgs.yaml, kpis.yaml).

Usage: python services/kpi_api/seed/check_seed.py [--plan PATH_TO_PLAN_TXT]

With --plan, also checks that every indicator's name_ja occurs in the plan text
(ignoring whitespace). Exits 1 and lists every problem if anything is wrong.
"""

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent

EXPECTED_TARGETS_PER_GOAL = {
    1: 7,
    2: 8,
    3: 13,
    4: 10,
    5: 9,
    6: 8,
    7: 5,
    8: 12,
    9: 8,
    10: 10,
    11: 10,
    12: 11,
    13: 5,
    14: 10,
    15: 12,
    16: 12,
    17: 19,
}
ASPECTS = {"economy", "society", "environment"}
DIRECTIONS = {"increase", "decrease"}
COMPARATORS = {"eq", "gte", "lte", "increase_from_baseline"}
DETERMINATIONS = {"as_written", "inferred"}
UNITS = {"円", "%", "人", "人/年", "件", "者", "回", "戸", "地域", "年", "千kWh/年", "千t-CO2"}
SECTIONS = {"1.1(3)", "1.2(1)", "2(2)①", "2(2)②", "2(2)③", "2(3)-1", "2(3)-2"}
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY = re.compile(r"^[a-z0-9_]+$")
CODE = re.compile(r"^(\d{1,2})\.(\d{1,2}|[a-z])$")
INDICATOR_KEYS = {
    "id",
    "name_ja",
    "name_en",
    "unit",
    "aspect",
    "direction",
    "cumulative",
    "owner",
    "source",
    "sections",
    "sdg_targets",
    "breakdowns",
    "baselines",
    "targets",
}
OPTIONAL_INDICATOR_KEYS = {"observation_basis", "headline_total"}


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_year(v):
    return isinstance(v, int) and not isinstance(v, bool) and 2000 <= v <= 2100


def check_sdgs(doc, errors):
    codes = set()
    goals = doc.get("goals") or []
    numbers = [g.get("number") for g in goals]
    if numbers != list(range(1, 18)):
        errors.append(f"sdgs: goal numbers must be 1..17 in order, got {numbers}")
    total = 0
    for g in goals:
        n = g.get("number")
        for field in ("name_ja", "name_en"):
            if not isinstance(g.get(field), str) or not g[field].strip():
                errors.append(f"sdgs: goal {n} missing {field}")
        targets = g.get("targets") or []
        total += len(targets)
        if len(targets) != EXPECTED_TARGETS_PER_GOAL.get(n):
            errors.append(
                f"sdgs: goal {n} has {len(targets)} targets, expected {EXPECTED_TARGETS_PER_GOAL.get(n)}"
            )
        for t in targets:
            m = CODE.match(str(t)) if isinstance(t, str) else None
            if not m or int(m.group(1)) != n:
                errors.append(f"sdgs: goal {n} has malformed target code {t!r}")
            if t in codes:
                errors.append(f"sdgs: duplicate target code {t}")
            codes.add(t)
    if total != 169:
        errors.append(f"sdgs: {total} targets, expected 169")
    return codes, total


def check_indicator(ind, sdg_codes, errors):
    iid = ind.get("id", "<no id>")
    where = f"indicator {iid}"
    extra = set(ind) - INDICATOR_KEYS - OPTIONAL_INDICATOR_KEYS
    if ind.get("observation_basis", "running_total") not in {"running_total", "fiscal_year_count"}:
        errors.append(f"{where}: observation_basis must be running_total or fiscal_year_count")
    missing = INDICATOR_KEYS - set(ind)
    if extra:
        errors.append(f"{where}: unknown fields {sorted(extra)}")
    if missing:
        errors.append(f"{where}: missing fields {sorted(missing)}")
    if not isinstance(iid, str) or not SLUG.match(iid):
        errors.append(f"{where}: id is not an ascii kebab-case slug")
    for field in ("name_ja", "name_en"):
        if not isinstance(ind.get(field), str) or not ind[field].strip():
            errors.append(f"{where}: {field} empty")
    if ind.get("unit") not in UNITS:
        errors.append(f"{where}: unit {ind.get('unit')!r} not in {sorted(UNITS)}")
    if ind.get("aspect") not in ASPECTS:
        errors.append(f"{where}: aspect {ind.get('aspect')!r} invalid")
    if ind.get("direction") not in DIRECTIONS:
        errors.append(f"{where}: direction {ind.get('direction')!r} invalid (must be explicit)")
    if not isinstance(ind.get("cumulative"), bool):
        errors.append(f"{where}: cumulative must be true/false")

    sections = ind.get("sections") or []
    if not sections:
        errors.append(f"{where}: no sections")
    for s in sections:
        if s not in SECTIONS:
            errors.append(f"{where}: unknown section {s!r}")
    if len(set(sections)) != len(sections):
        errors.append(f"{where}: duplicate sections")

    seen_codes = set()
    for link in ind.get("sdg_targets") or []:
        code = link.get("code")
        if code not in sdg_codes:
            errors.append(f"{where}: SDG code {code!r} does not exist in sdgs.yaml")
        if code in seen_codes:
            errors.append(f"{where}: SDG code {code} linked twice")
        seen_codes.add(code)
        if link.get("determination") not in DETERMINATIONS:
            errors.append(f"{where}: SDG {code} determination {link.get('determination')!r} invalid")
        if not isinstance(link.get("note"), str) or not link["note"].strip():
            errors.append(f"{where}: SDG {code} has no note")

    keys = []
    for b in ind.get("breakdowns") or []:
        k = b.get("key")
        if not isinstance(k, str) or not KEY.match(k):
            errors.append(f"{where}: bad breakdown key {k!r}")
        for field in ("name_ja", "name_en"):
            if not isinstance(b.get(field), str) or not b[field].strip():
                errors.append(f"{where}: breakdown {k} missing {field}")
        keys.append(k)
    if len(set(keys)) != len(keys):
        errors.append(f"{where}: duplicate breakdown keys")
    keyset = set(keys)

    def check_breakdown(entry, what):
        bd = entry.get("breakdown")
        if keyset:
            if bd not in keyset:
                errors.append(f"{where}: {what} breakdown {bd!r} not among {sorted(keyset)}")
        elif bd is not None:
            errors.append(f"{where}: {what} references breakdown {bd!r} but indicator has none")

    seen_baselines = set()
    for b in ind.get("baselines") or []:
        check_breakdown(b, "baseline")
        if not is_number(b.get("value")):
            errors.append(f"{where}: baseline value {b.get('value')!r} is not a number")
        if not is_year(b.get("fiscal_year")):
            errors.append(f"{where}: baseline fiscal_year {b.get('fiscal_year')!r} invalid")
        k = (b.get("breakdown"), b.get("fiscal_year"))
        if k in seen_baselines:
            errors.append(f"{where}: duplicate baseline {k}")
        seen_baselines.add(k)

    targets = ind.get("targets") or []
    if not targets:
        errors.append(f"{where}: no targets")
    seen_targets = set()
    target_sections: set[str] = set()
    for t in targets:
        check_breakdown(t, "target")
        comp = t.get("comparator")
        if comp not in COMPARATORS:
            errors.append(f"{where}: comparator {comp!r} invalid")
        if not is_year(t.get("fiscal_year")):
            errors.append(f"{where}: target fiscal_year {t.get('fiscal_year')!r} invalid")
        if comp == "increase_from_baseline":
            if t.get("value") is not None:
                errors.append(f"{where}: increase_from_baseline target must have value: null")
            ref = t.get("reference_fiscal_year")
            if not is_year(ref):
                errors.append(f"{where}: increase_from_baseline target needs reference_fiscal_year")
            elif not any(
                b.get("fiscal_year") == ref and b.get("breakdown") == t.get("breakdown")
                for b in ind.get("baselines") or []
            ):
                errors.append(f"{where}: no baseline for reference_fiscal_year {ref}")
        else:
            if not is_number(t.get("value")):
                errors.append(f"{where}: target value {t.get('value')!r} is not a number")
            if "reference_fiscal_year" in t:
                errors.append(f"{where}: reference_fiscal_year only allowed with increase_from_baseline")
        tsec = t.get("sections") or []
        if not tsec:
            errors.append(f"{where}: target without sections")
        for s in tsec:
            if s not in sections:
                errors.append(f"{where}: target section {s!r} not in indicator sections")
        target_sections.update(tsec)
        k = (t.get("breakdown"), t.get("fiscal_year"))
        if k in seen_targets:
            errors.append(f"{where}: two targets for {k}; merge their sections")
        seen_targets.add(k)
    if keyset:
        for k in keyset:
            if not any(t.get("breakdown") == k for t in targets):
                errors.append(f"{where}: breakdown {k} has no target")
    for s in sections:
        if s not in target_sections:
            errors.append(f"{where}: section {s} cites the indicator but no target lists it")
    return len(targets)


def check_kpis(doc, sdg_codes, errors):
    indicators = doc.get("indicators") or []
    initiatives = doc.get("initiatives") or []
    ids = Counter(i.get("id") for i in indicators) + Counter(i.get("id") for i in initiatives)
    for k, n in ids.items():
        if n > 1:
            errors.append(f"id {k!r} used {n} times")
    names = Counter(i.get("name_ja") for i in indicators)
    for k, n in names.items():
        if n > 1:
            errors.append(f"indicator name_ja {k!r} appears {n} times; merge into one entry")
    n_targets = sum(check_indicator(ind, sdg_codes, errors) for ind in indicators)

    indicator_ids = {i.get("id") for i in indicators}
    for ini in initiatives:
        iid = ini.get("id", "<no id>")
        if not isinstance(iid, str) or not SLUG.match(iid):
            errors.append(f"initiative {iid}: id is not an ascii kebab-case slug")
        for field in ("name_ja", "name_en"):
            if not isinstance(ini.get(field), str) or not ini[field].strip():
                errors.append(f"initiative {iid}: {field} empty")
        if ini.get("section") not in SECTIONS:
            errors.append(f"initiative {iid}: unknown section {ini.get('section')!r}")
        kpis = ini.get("kpis")
        if not isinstance(kpis, list):
            errors.append(f"initiative {iid}: kpis must be a list")
            continue
        for k in kpis:
            if k not in indicator_ids:
                errors.append(f"initiative {iid}: kpi {k!r} is not an indicator id")
    return indicators, initiatives, n_targets


def check_plan_names(indicators, plan_path, errors):
    text = re.sub(r"\s+", "", Path(plan_path).read_text(encoding="utf-8"))
    for ind in indicators:
        name = re.sub(r"\s+", "", ind.get("name_ja") or "")
        if name not in text:
            errors.append(f"indicator {ind.get('id')}: name_ja {ind.get('name_ja')!r} not found in plan text")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--plan", help="plan text to check indicator names against")
    args = ap.parse_args()

    errors: list[str] = []
    sdgs = yaml.safe_load((HERE / "sdgs.yaml").read_text(encoding="utf-8"))
    kpis = yaml.safe_load((HERE / "kpis.yaml").read_text(encoding="utf-8"))
    sdg_codes, n_sdg_targets = check_sdgs(sdgs, errors)
    indicators, initiatives, n_targets = check_kpis(kpis, sdg_codes, errors)
    if args.plan:
        check_plan_names(indicators, args.plan, errors)

    links = [l for i in indicators for l in i.get("sdg_targets") or []]
    print(f"SDG goals: {len(sdgs.get('goals') or [])}, SDG targets: {n_sdg_targets}")
    print(f"indicators: {len(indicators)}")
    for aspect in sorted(ASPECTS):
        print(f"  {aspect}: {sum(1 for i in indicators if i.get('aspect') == aspect)}")
    print(
        f"  cumulative: {sum(1 for i in indicators if i.get('cumulative'))}, "
        f"decrease: {sum(1 for i in indicators if i.get('direction') == 'decrease')}, "
        f"with breakdowns: {sum(1 for i in indicators if i.get('breakdowns'))}, "
        f"without baseline: {sum(1 for i in indicators if not i.get('baselines'))}"
    )
    print(f"target entries: {n_targets}")
    print(f"baseline entries: {sum(len(i.get('baselines') or []) for i in indicators)}")
    print(
        f"SDG links: {len(links)} "
        f"({sum(1 for l in links if l.get('determination') == 'as_written')} as_written, "
        f"{sum(1 for l in links if l.get('determination') == 'inferred')} inferred)"
    )
    multi = [i["id"] for i in indicators if len({t.get("fiscal_year") for t in i.get("targets") or []}) > 1]
    print(f"indicators with targets for several fiscal years: {len(multi)} {multi}")
    print(f"initiatives: {len(initiatives)}")

    if errors:
        print(f"\n{len(errors)} problem(s):", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
