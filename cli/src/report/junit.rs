//! The JUnit XML report CI systems read: `<testsuites>` with one `<testsuite>` per store and one
//! `<testcase>` per scenario (classname `store.area`), a failure carrying the located message, a
//! skip carrying its reason. Each test case's `<system-out>` names its scenario's file and the line
//! of its `id` (`scenario: FILE:LINE`), so a reader of a CI page can open the YAML.
//!
//! The document is valid against `conformance-spec/junit.xsd`, which admits only what the JUnit
//! schema CI tools commonly validate against (the Jenkins xUnit plugin's `junit-10.xsd`) admits
//! too. That schema has no `file` or `line` attribute on a test case, nor `skipped` on
//! `<testsuites>`, hence the location in `<system-out>` and skips counted per suite. `.ci/run`
//! validates a report with `xmllint`.

use std::fmt::Write as _;

use user_engine::conformance::Status;

use super::{Report, seconds};

/// Renders the report as a UTF-8 XML document.
pub fn render(report: &Report<'_>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = report.total();
    let _ = writeln!(
        out,
        "<testsuites name=\"user-engine conformance\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">",
        total.passed + total.failed + total.skipped,
        total.failed,
        seconds(report.elapsed)
    );
    for run in &report.stores {
        let t = run.tally();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
            escape(&run.store.label),
            run.results.len(),
            t.failed,
            t.skipped,
            seconds(run.elapsed)
        );
        let _ = writeln!(out, "    <properties>");
        let _ = writeln!(
            out,
            "      <property name=\"store\" value=\"{}\"/>",
            escape(&run.store.url.to_string())
        );
        let _ = writeln!(
            out,
            "      <property name=\"capabilities\" value=\"{}\"/>",
            escape(&run.store.capabilities.join(","))
        );
        let _ = writeln!(
            out,
            "      <property name=\"spec\" value=\"{}\"/>",
            escape(&report.spec_source)
        );
        let _ = writeln!(out, "    </properties>");
        for (result, scenario) in run.results.iter().zip(&report.scenarios) {
            let outcome = &result.outcome;
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{}\">",
                escape(&outcome.id),
                escape(&run.store.label),
                escape(&outcome.area),
                seconds(result.elapsed),
            );
            let verdict = match &outcome.status {
                Status::Passed => String::new(),
                Status::Skipped { reason } => {
                    format!("      <skipped message=\"{}\"/>\n", escape(reason))
                }
                Status::Failed(failure) => {
                    let message = format!(
                        "{} ({}): expected {}",
                        failure.location,
                        failure.step_label,
                        first_line(&failure.expected)
                    );
                    format!(
                        "      <failure message=\"{}\" type=\"conformance\">{}</failure>\n",
                        escape(&message),
                        escape_text(&failure.to_string())
                    )
                }
            };
            let _ = writeln!(
                out,
                "{open}\n{verdict}      <system-out>scenario: {}:{}</system-out>\n    </testcase>",
                escape_text(&scenario.location.file),
                scenario.location.line
            );
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// Escapes element content; line breaks stay as they are, for a readable file.
fn escape_text(text: &str) -> String {
    text.split('\n').map(escape).collect::<Vec<_>>().join("\n")
}

/// Escapes an attribute value (line breaks as character references, which attribute
/// normalisation would otherwise turn into spaces), and replaces what XML 1.0 cannot hold.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            escape("a<b & \"c\"\n\u{1}"),
            "a&lt;b &amp; &quot;c&quot;&#10;\u{FFFD}"
        );
        assert_eq!(escape_text("x < y\nz"), "x &lt; y\nz");
    }
}
