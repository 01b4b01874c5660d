//! Plain-text tables for the listing commands (`jobs list`, `outbox list`).

/// The rows (the first is the header) as lines of left-aligned columns two spaces apart; the
/// last column is not padded and no line ends in spaces.
pub fn render<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to `width` characters, the last one `…` when it was longer; `-` for none.
pub fn cut(text: Option<&str>, width: usize) -> String {
    match text {
        None => "-".to_owned(),
        Some(t) if t.chars().count() > width => {
            let mut cut: String = t.chars().take(width.saturating_sub(1)).collect();
            cut.push('…');
            cut
        }
        Some(t) => t.to_owned(),
    }
}
