//! CPU and memory amounts, as in a pod's requests or a node's allocatable capacity.
//!
//! Everything is kept in integer milli-CPUs and MiB: the scheduler compares sums of
//! requests against allocatable capacity many thousands of times, and integers make
//! those comparisons exact and identical on every platform (no floating point in the
//! model's state). The parsers of the notations users write amounts in stay with the
//! simulator (`runbook_sim::resources`).

use serde::{Deserialize, Serialize};

/// An amount of CPU (milli-CPUs) and memory (MiB), as in a pod's resource requests or a
/// node's allocatable capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in milli-CPUs (`1000` = one vCPU, Kubernetes `1` or `1000m`).
    pub cpu_millis: u64,
    /// Memory in MiB (Kubernetes `Mi`).
    pub memory_mib: u64,
}

impl Resources {
    /// No CPU and no memory.
    pub const ZERO: Resources = Resources {
        cpu_millis: 0,
        memory_mib: 0,
    };

    /// Builds an amount from milli-CPUs and MiB.
    pub const fn new(cpu_millis: u64, memory_mib: u64) -> Resources {
        Resources {
            cpu_millis,
            memory_mib,
        }
    }

    /// True when both dimensions of `self` are at most those of `other`: the test the
    /// scheduler's `NodeResourcesFit` filter applies to requests against free capacity.
    pub const fn fits_in(&self, other: &Resources) -> bool {
        self.cpu_millis <= other.cpu_millis && self.memory_mib <= other.memory_mib
    }

    /// Component-wise sum.
    pub const fn plus(&self, other: &Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis + other.cpu_millis,
            memory_mib: self.memory_mib + other.memory_mib,
        }
    }

    /// Component-wise difference, floored at zero.
    pub const fn saturating_minus(&self, other: &Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
        }
    }

    /// True when both dimensions are zero.
    pub const fn is_zero(&self) -> bool {
        self.cpu_millis == 0 && self.memory_mib == 0
    }
}

impl std::ops::AddAssign for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        self.cpu_millis += rhs.cpu_millis;
        self.memory_mib += rhs.memory_mib;
    }
}

impl std::ops::SubAssign for Resources {
    /// Subtraction that never underflows: accounting code only subtracts what it added,
    /// so a saturation here would hide a bug rather than cause one; the property tests
    /// check the sums independently.
    fn sub_assign(&mut self, rhs: Resources) {
        self.cpu_millis = self.cpu_millis.saturating_sub(rhs.cpu_millis);
        self.memory_mib = self.memory_mib.saturating_sub(rhs.memory_mib);
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cpu={}m memory={}Mi", self.cpu_millis, self.memory_mib)
    }
}
