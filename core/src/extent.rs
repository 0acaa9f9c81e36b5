//! [`Extent`]: a range of units, `[start, start + size)`, passed between the core's modules
//! by name rather than as a `(usize, usize)` whose order the reader would have to guess.

/// The units `[start, start + size)` of the managed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Extent {
    /// The first unit.
    pub(crate) start: usize,
    /// The number of units.
    pub(crate) size: usize,
}

impl Extent {
    /// `[start, start + size)`.
    #[inline]
    pub(crate) const fn new(start: usize, size: usize) -> Self {
        Extent { start, size }
    }

    /// Whether unit `at` lies in the extent (without overflow, whatever the numbers).
    #[inline]
    pub(crate) const fn contains(self, at: usize) -> bool {
        at >= self.start && at - self.start < self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_its_units_only() {
        let extent = Extent::new(10, 5);
        assert!(!extent.contains(9) && extent.contains(10) && extent.contains(14) && !extent.contains(15));
        assert!(Extent::new(usize::MAX - 1, 1).contains(usize::MAX - 1));
        assert!(!Extent::new(usize::MAX, 0).contains(usize::MAX));
    }
}
