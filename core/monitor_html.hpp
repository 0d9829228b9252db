#pragma once

// The HTML report of `mlo monitor --html`: one self-contained HTML5 page (inline <style>, no
// scripts, fonts or images) for the JSON report `mlo monitor --json` prints.
//
// Layout rules the tests (tests/unit/core/test_monitor_html.cpp, tests/e2e/check_html_report.py)
// rely on:
//   - a summary (reference, current, time, dataset verdict, status), a table with one row per
//     column (<tr class="drifted"> when the column drifted), a performance section only when
//     "performance" is an object;
//   - exactly one inline <svg xmlns="http://www.w3.org/2000/svg"> per entry of "columns" and no
//     other <svg>; its first child is a <title> holding the column name; it always contains a
//     background <rect>, plus one <rect> per bar: reference and current share per bin/category;
//   - categorical histograms with more than 30 categories show the 30 with the largest share
//     (on either side) in their given order, then "other" holding the rest;
//   - every interpolated string is escaped (escape_markup), the SVG parts are well-formed XML
//     with no HTML-only entities, and NaN/infinite numbers print as "n/a" in text and never reach
//     an attribute;
//   - the output depends on the JSON only (no locale, clock or randomness).
// Every key is optional: a missing or mistyped value renders as "n/a" (or is left out) and never
// throws.

#include <string>

#include <nlohmann/json.hpp>

namespace mlo::core {

std::string monitor_report_html(const nlohmann::json& report);

}  // namespace mlo::core
