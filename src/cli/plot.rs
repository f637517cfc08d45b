//! A horizontal bar chart as a standalone SVG, for `hetl profile --plot`.

/// An SVG with one labelled bar per (label, value), scaled to the largest value.
#[must_use]
pub fn svg_bars(title: &str, bars: &[(String, f64)]) -> String {
    let (row, label_width, bar_width) = (18.0, 260.0, 420.0);
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-12);
    let height = 40.0 + row * bars.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <text x=\"8\" y=\"18\" font-size=\"13\">{}</text>\n",
        label_width + bar_width + 90.0,
        escape(title)
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = 30.0 + row * i as f64;
        let w = bar_width * value / max;
        svg += &format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#4878a8\"/>\
             <text x=\"{}\" y=\"{}\">{value:.3} s</text>\n",
            label_width - 6.0,
            y + 12.0,
            escape(label),
            label_width,
            row - 4.0,
            label_width + w + 4.0,
            y + 12.0
        );
    }
    svg + "</svg>\n"
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn bars_scale_to_the_largest_value() {
        let svg = super::svg_bars("t <1>", &[("a".into(), 2.0), ("b".into(), 1.0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("width=\"420.0\"") && svg.contains("width=\"210.0\""), "{svg}");
        assert!(svg.contains("t &lt;1&gt;"));
    }
}
