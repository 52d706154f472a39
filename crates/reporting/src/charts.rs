//! Charts of an indicator table as SVG, drawn with plotters' SVG backend on the server (the pages
//! work without script): one horizontal bar per node, sorted by share, with its 95 % interval as
//! a whisker, last year's share as a marker, and the indicator's target levels as coloured bands
//! behind the bars. A withheld result is drawn as the word for withheld with the marker `*`,
//! never as a bar of zero. Every number comes from the table as stored (nothing is recomputed).

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::exports::{DownloadRow, DownloadTable, SUPPRESSED};

/// Band colours: low, moderate, high (light, so the bars stand out).
const LOW: RGBColor = RGBColor(0xf6, 0xd5, 0xd0);
const MODERATE: RGBColor = RGBColor(0xfb, 0xec, 0xc1);
const HIGH: RGBColor = RGBColor(0xd4, 0xec, 0xd9);
const BAR: RGBColor = RGBColor(0x1f, 0x4e, 0x79);
const LAST_YEAR: RGBColor = RGBColor(0x6b, 0x6b, 0x6b);

/// The words a chart uses, in the page's language.
#[derive(Debug, Clone, Copy)]
pub struct ChartWords {
    pub withheld: &'static str,
    pub share_axis: &'static str,
}

/// Bokmål.
pub const NORWEGIAN: ChartWords = ChartWords { withheld: "holdt tilbake", share_axis: "andel (%)" };

/// English.
pub const ENGLISH: ChartWords = ChartWords { withheld: "withheld", share_axis: "share (%)" };

/// The rows in chart order: published shares from highest to lowest, then the withheld ones
/// (by name), so that a withheld row never sits where a low result would.
pub fn chart_order(table: &DownloadTable) -> Vec<&DownloadRow> {
    let mut rows: Vec<&DownloadRow> = table.rows.iter().collect();
    rows.sort_by(|a, b| match (b.result.share, a.result.share) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.result.name.cmp(&b.result.name)),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        (None, None) => a.result.name.cmp(&b.result.name),
    });
    rows
}

/// The SVG of `table`'s rows, titled `title`, with `description` as its text alternative; `id`
/// makes the ids of its title and description unique on a page with several charts.
pub fn indicator_svg(table: &DownloadTable, id: &str, title: &str, description: &str, words: ChartWords) -> String {
    let rows = chart_order(table);
    let height = 70 + 28 * rows.len().max(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (880, height)).into_drawing_area();
        // Drawing into a String cannot fail but for a bug in the layout.
        if let Err(e) = draw(&root, table, &rows, words) {
            debug_assert!(false, "chart: {e}");
        }
        let _ = root.present();
    }
    accessible(svg, id, title, description)
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, Shift>,
    table: &DownloadTable,
    rows: &[&DownloadRow],
    words: ChartWords,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let n = rows.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .margin_right(30)
        .x_label_area_size(40)
        .y_label_area_size(340)
        .build_cartesian_2d(0f64..100f64, 0f64..n)?;
    let (moderate, high) = (table.moderate * 100.0, table.high * 100.0);
    chart.draw_series([
        Rectangle::new([(0.0, 0.0), (moderate, n)], LOW.filled()),
        Rectangle::new([(moderate, 0.0), (high, n)], MODERATE.filled()),
        Rectangle::new([(high, 0.0), (100.0, n)], HIGH.filled()),
    ])?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(words.share_axis)
        .x_label_style(("sans-serif", 12))
        .draw()?;
    // The names, right-aligned left of the plot, at the middle of their rows.
    let name_style =
        TextStyle::from(("sans-serif", 13).into_font()).color(&BLACK).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Right,
            plotters::style::text_anchor::VPos::Center,
        ));
    for (i, row) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, n - i as f64 - 0.5));
        root.draw(&Text::new(row.result.name.clone(), (x - 6, y), &name_style))?;
    }
    for (i, row) in rows.iter().enumerate() {
        let top = n - i as f64 - 0.2;
        let bottom = n - i as f64 - 0.8;
        let middle = n - i as f64 - 0.5;
        let r = &row.result;
        match r.share {
            Some(share) => {
                chart.draw_series([Rectangle::new([(0.0, bottom), (share * 100.0, top)], BAR.filled())])?;
                if let (Some(lo), Some(hi)) = (r.ci_low, r.ci_high) {
                    chart.draw_series([PathElement::new(
                        [(lo * 100.0, middle), (hi * 100.0, middle)],
                        BLACK.stroke_width(2),
                    )])?;
                    for x in [lo, hi] {
                        chart.draw_series([PathElement::new(
                            [(x * 100.0, middle - 0.2), (x * 100.0, middle + 0.2)],
                            BLACK.stroke_width(2),
                        )])?;
                    }
                }
                if let Some(before) = r.previous_share {
                    chart.draw_series([TriangleMarker::new((before * 100.0, middle), 6, LAST_YEAR.filled())])?;
                }
            }
            None => {
                chart.draw_series([Text::new(
                    format!("{SUPPRESSED} {}", words.withheld),
                    (1.0, middle + 0.15),
                    ("sans-serif", 13).into_font().color(&BLACK),
                )])?;
            }
        }
    }
    Ok(())
}

/// Gives the SVG a role, a title and a description (its text alternative).
fn accessible(svg: String, id: &str, title: &str, description: &str) -> String {
    let Some(end) = svg.find('>') else { return svg };
    let (head, rest) = svg.split_at(end);
    let id = escape(id);
    format!(
        "{head} role=\"img\" aria-labelledby=\"{id}-title {id}-desc\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>{}",
        escape(title),
        escape(description),
        &rest[1..]
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::IndicatorResult;
    use domain::indicators::{IndicatorId, ReportLevel};

    fn row(name: &str, counts: (Option<i64>, Option<i64>)) -> DownloadRow {
        DownloadRow {
            level: ReportLevel::LegalEntity,
            parent_id: None,
            complement: None,
            result: IndicatorResult::new(IndicatorId::TreatmentPlanEarly, 1, name, counts, (None, None)),
        }
    }

    fn table() -> DownloadTable {
        DownloadTable {
            id: IndicatorId::TreatmentPlanEarly,
            title_no: "Behandlingsplan",
            title_en: "Treatment plan",
            high: 0.8,
            moderate: 0.6,
            rows: vec![
                row("Low & small", (Some(10), Some(40))),
                row("Withheld", (None, Some(12))),
                row("High", (Some(36), Some(40))),
            ],
        }
    }

    #[test]
    fn rows_go_from_the_highest_share_down_and_withheld_ones_last() {
        let t = table();
        let names: Vec<&str> = chart_order(&t).iter().map(|r| r.result.name.as_str()).collect();
        assert_eq!(names, ["High", "Low & small", "Withheld"]);
    }

    #[test]
    fn the_svg_names_every_row_marks_the_withheld_one_and_has_a_text_alternative() {
        let svg = indicator_svg(&table(), "chart", "Behandlingsplan <2025>", "alt text", NORWEGIAN);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains("role=\"img\"")
                && svg.contains("<title id=\"chart-title\">Behandlingsplan &lt;2025&gt;</title>")
        );
        assert!(svg.contains("High") && svg.contains("Low &amp; small"), "{svg}");
        assert!(svg.contains("* holdt tilbake"));
        // Two bars (the withheld row has none) on top of the three bands and the background.
        assert_eq!(svg.matches("fill=\"#1F4E79\"").count(), 2, "{svg}");
    }
}
