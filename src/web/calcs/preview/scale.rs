//! Axes and colours for the charts: linear axes with round ticks, logarithmic axes with decade
//! ticks, and the viridis colour ramp (perceptually uniform, readable by colour-blind people).

use super::chart::short_number;

/// A map from data values to a pixel range, and where its ticks go.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    /// The values to label.
    pub ticks: Vec<f64>,
}

/// The smallest and the largest of `values` (None when there are none).
pub fn span(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((v.min(lo), v.max(hi))),
    })
}

/// Where `v` lies from `lo` (0) to `hi` (1), the middle when they are equal. Halved first:
/// the span from -1e308 to 1e308 overflows.
pub fn fraction(v: f64, lo: f64, hi: f64) -> f64 {
    if hi > lo {
        (v / 2.0 - lo / 2.0) / (hi / 2.0 - lo / 2.0)
    } else {
        0.5
    }
}

/// The ends of a linear axis at most.
const LINEAR_END: f64 = 1e300;

/// 1, 2 or 5 times a power of ten, about `span / 5`.
fn round_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * p
}

/// The next round step up: 1 -> 2 -> 5 -> 10 (times a power of ten).
fn coarser(step: f64) -> f64 {
    let p = 10f64.powf(step.log10().floor());
    let m = (step / p).round();
    if m < 2.0 {
        2.0 * p
    } else if m < 5.0 {
        5.0 * p
    } else {
        10.0 * p
    }
}

impl Axis {
    /// A linear axis from `lo` to `hi`, widened to round numbers.
    pub fn linear(lo: f64, hi: f64) -> Axis {
        Axis::linear_by(lo, hi, None)
    }

    /// The same axis with at most `max` ticks (at least 2): rounder steps on a linear axis,
    /// every second (third...) decade on a logarithmic one, so that labels do not overlap.
    pub fn at_most(&self, max: usize) -> Axis {
        let max = max.max(2);
        if self.ticks.len() <= max {
            return self.clone();
        }
        if !self.log {
            let mut axis = self.clone();
            let mut step = self.ticks[1] - self.ticks[0];
            while axis.ticks.len() > max && step.is_finite() {
                step = coarser(step);
                axis = Axis::linear_by(self.lo, self.hi, Some(step));
            }
            return axis;
        }
        // Decades only, then every k-th of them (from the top).
        let decades: Vec<f64> = self
            .ticks
            .iter()
            .copied()
            .filter(|t| {
                let k = t.log10().round();
                (10f64.powf(k) - t).abs() <= t * 1e-9
            })
            .collect();
        let k = decades.len().div_ceil(max).max(1);
        let n = decades.len();
        let ticks = decades
            .into_iter()
            .enumerate()
            .filter(|(i, _)| (n - 1 - i).is_multiple_of(k))
            .map(|(_, t)| t)
            .collect();
        Axis {
            ticks,
            ..self.clone()
        }
    }

    /// [`Axis::linear`] with this step (else one of about a fifth of the span).
    fn linear_by(lo: f64, hi: f64, step: Option<f64>) -> Axis {
        // Within ±1e300 the arithmetic below stays finite (a file may hold 1e308).
        let (lo, hi) = (
            lo.clamp(-LINEAR_END, LINEAR_END),
            hi.clamp(-LINEAR_END, LINEAR_END),
        );
        // A constant: a span around it (±1 would vanish in the rounding of a large value).
        let (lo, hi) = if lo == hi {
            let half = (lo.abs() * 0.1).max(1.0);
            (lo - half, hi + half)
        } else {
            (lo, hi)
        };
        let step = step.unwrap_or_else(|| round_step(hi - lo));
        let lo = (lo / step).floor() * step;
        let hi = (hi / step).ceil() * step;
        let n = ((hi - lo) / step).round() as i64;
        let ticks = (0..=n)
            .map(|i| lo + i as f64 * step)
            // -0.0 and 0.30000000000000004 read as 0 and 0.3.
            .map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v })
            .collect();
        Axis {
            lo,
            hi,
            log: false,
            ticks,
        }
    }

    /// A logarithmic axis over the decades that hold `lo..hi` (both > 0), at most
    /// `max_decades` below the top. Short ranges also get ticks at 2 and 5.
    pub fn log(lo: f64, hi: f64, max_decades: i32) -> Axis {
        // The decades of finite, normal numbers (a file may hold 1e308).
        let top = (hi.log10().ceil() as i32).clamp(f64::MIN_10_EXP + 1, f64::MAX_10_EXP);
        let mut bottom = (lo.log10().floor() as i32)
            .max(top - max_decades)
            .max(f64::MIN_10_EXP);
        if bottom == top {
            bottom -= 1;
        }
        let mut ticks = Vec::new();
        for k in bottom..=top {
            let d = 10f64.powi(k);
            ticks.push(d);
            if top - bottom <= 2 && k < top {
                ticks.extend([2.0 * d, 5.0 * d]);
            }
        }
        Axis {
            lo: 10f64.powi(bottom),
            hi: 10f64.powi(top),
            log: true,
            ticks,
        }
    }

    /// Where `v` lies between the ends, 0..1 (outside for values beyond them).
    pub fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            fraction(v, self.lo, self.hi)
        }
    }

    /// Holds `v` (a log axis holds only positive values).
    pub fn contains(&self, v: f64) -> bool {
        (!self.log || v > 0.0) && (self.lo..=self.hi).contains(&v)
    }

    pub fn label(&self, v: f64) -> String {
        if self.log {
            let k = v.log10().round() as i32;
            if (10f64.powi(k) - v).abs() < v * 1e-9 && !(-4..=5).contains(&k) {
                return format!("1e{k}");
            }
        }
        short_number(v)
    }
}

/// The viridis colour of `t` in 0..1, as `#rrggbb`.
pub fn viridis(t: f64) -> String {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    format!("#{:x}", colorous::VIRIDIS.eval_continuous(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_axes_have_round_ticks() {
        let a = Axis::linear(0.0, 0.97);
        assert_eq!(
            a.ticks.iter().map(|t| a.label(*t)).collect::<Vec<_>>(),
            ["0", "0.2", "0.4", "0.6", "0.8", "1"]
        );
        assert_eq!((a.lo, a.hi), (0.0, 1.0));
        let a = Axis::linear(-3.0, 12.0);
        assert_eq!((a.lo, a.hi), (-5.0, 15.0));
        assert_eq!(a.fraction(5.0), 0.5);
        let a = Axis::linear(2.0, 2.0);
        assert_eq!((a.lo, a.hi), (1.0, 3.0), "a single value gets room");
    }

    #[test]
    fn axes_of_extreme_values_stay_finite() {
        // Found by fuzzing (tests/fuzz/corpus/csv): a level of 1.00000001e308 put a tick at inf.
        let log = Axis::log(1e-320, 1.00000001e308, 400);
        assert!(log.ticks.iter().all(|t| t.is_finite() && *t > 0.0));
        assert!(log.hi.is_finite() && log.lo > 0.0);
        let linear = Axis::linear(-1e308, 1e308);
        assert!(linear.ticks.iter().all(|t| t.is_finite()));
        assert_eq!(fraction(1e308, -1e308, 1e308), 1.0);
        assert_eq!(fraction(3.0, 3.0, 3.0), 0.5);
    }

    #[test]
    fn log_axes_tick_decades() {
        let a = Axis::log(0.005, 1.0, 8);
        assert_eq!((a.lo, a.hi), (0.001, 1.0));
        assert_eq!(
            a.ticks.iter().map(|t| a.label(*t)).collect::<Vec<_>>(),
            ["0.001", "0.01", "0.1", "1"]
        );
        assert!((a.fraction(0.01) - 1.0 / 3.0).abs() < 1e-12);
        assert!(!a.contains(0.0));
        // Far below the top: cut at max_decades; tiny numbers read as powers of ten.
        let a = Axis::log(1e-20, 0.6, 8);
        assert_eq!((a.lo, a.hi), (1e-8, 1.0));
        assert_eq!(a.label(1e-8), "1e-8");
        assert!(!a.contains(1e-9));
        // One decade: 2 and 5 too.
        let a = Axis::log(0.15, 0.9, 8);
        assert_eq!(a.ticks, [0.1, 0.2, 0.5, 1.0]);
    }

    #[test]
    fn axes_thin_their_ticks_to_fit() {
        let a = Axis::linear(0.0, 9.7);
        assert_eq!(a.ticks, [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(a.at_most(6), a);
        assert_eq!(a.at_most(5).ticks, [0.0, 5.0, 10.0]);
        assert_eq!(a.at_most(2).ticks, [0.0, 10.0]);
        let b = Axis::linear(0.0, 0.47).at_most(4);
        let labels: Vec<String> = b.ticks.iter().map(|t| b.label(*t)).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6"]);
        let log = Axis::log(1e-12, 1.0, 16);
        assert_eq!(log.ticks.len(), 13);
        let thin = log.at_most(5);
        assert_eq!(thin.ticks, [1e-12, 1e-9, 1e-6, 1e-3, 1.0]);
        assert_eq!((thin.lo, thin.hi), (1e-12, 1.0), "the same range");
        // Decades first: 2 and 5 go.
        let short = Axis::log(0.15, 0.9, 8);
        assert_eq!(short.at_most(2).ticks, [0.1, 1.0]);
    }

    #[test]
    fn viridis_runs_from_purple_to_yellow() {
        assert_eq!(viridis(0.0), "#440154");
        assert_eq!(viridis(1.0), "#fde725");
        assert_eq!(viridis(f64::NAN), "#440154");
    }
}
