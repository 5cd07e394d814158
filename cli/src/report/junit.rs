//! The JUnit XML report CI systems read: `<testsuites>` with one `<testsuite>` per store and one
//! `<testcase>` per scenario (classname `store.area`), a failure carrying the located message, a
//! skip carrying its reason.

use std::fmt::Write as _;

use user_engine::conformance::Status;

use super::{Report, seconds};

/// Renders the report as a UTF-8 XML document.
pub fn render(report: &Report<'_>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = report.total();
    let _ = writeln!(
        out,
        "<testsuites name=\"user-engine conformance\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">",
        total.passed + total.failed + total.skipped,
        total.failed,
        total.skipped,
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
        for result in &run.results {
            let outcome = &result.outcome;
            let open = format!(
                "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{}\"",
                escape(&outcome.id),
                escape(&run.store.label),
                escape(&outcome.area),
                seconds(result.elapsed)
            );
            match &outcome.status {
                Status::Passed => {
                    let _ = writeln!(out, "{open}/>");
                }
                Status::Skipped { reason } => {
                    let _ = writeln!(
                        out,
                        "{open}>\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(reason)
                    );
                }
                Status::Failed(failure) => {
                    let message = format!(
                        "{} ({}): expected {}",
                        failure.location,
                        failure.step_label,
                        first_line(&failure.expected)
                    );
                    let _ = writeln!(
                        out,
                        "{open}>\n      <failure message=\"{}\" type=\"conformance\">{}</failure>\n    </testcase>",
                        escape(&message),
                        escape_text(&failure.to_string())
                    );
                }
            }
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
