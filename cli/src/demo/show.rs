//! The demo's output: timestamps since the start and the summary table.

use std::time::Duration;

/// Time since the demo started, as `[  3.217s]`.
#[derive(Clone)]
pub struct Clock {
    t0: std::time::Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            t0: std::time::Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    pub fn stamp(&self) -> String {
        self.stamp_at(std::time::Instant::now())
    }

    pub fn stamp_at(&self, at: std::time::Instant) -> String {
        format!(
            "[{:>7.3}s]",
            at.saturating_duration_since(self.t0).as_secs_f64()
        )
    }
}

/// A duration the way people read it: `12.3 ms`, `2.104 s`.
pub fn ms(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// What was measured, against what the design promises.
#[derive(Default)]
pub struct Summary {
    rows: Vec<(String, String, String, bool)>,
}

impl Summary {
    pub fn row(&mut self, what: &str, measured: String, expected: &str, held: bool) {
        self.rows
            .push((what.to_string(), measured, expected.to_string(), held));
    }

    pub fn all_held(&self) -> bool {
        self.rows.iter().all(|r| r.3)
    }

    pub fn table(&self) -> String {
        let w0 = self
            .rows
            .iter()
            .map(|r| r.0.len())
            .max()
            .unwrap_or(0)
            .max(4);
        let w1 = self
            .rows
            .iter()
            .map(|r| r.1.len())
            .max()
            .unwrap_or(0)
            .max(8);
        let mut s = format!("  {:<w0$}  {:<w1$}  {}\n", "what", "measured", "expected");
        for (what, measured, expected, held) in &self.rows {
            let mark = if *held { "ok" } else { "NOT MET" };
            s.push_str(&format!(
                "  {what:<w0$}  {measured:<w1$}  {expected}  [{mark}]\n"
            ));
        }
        s
    }
}
